"""rls3-bench: a benchmark for synthetic data generators that teach VLMs spatial relations."""

__version__ = "0.1.0"
