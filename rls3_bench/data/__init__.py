"""Data on disk: frozen hashed eval sets, sample tables (Parquet), contact sheets, atomic writes."""
