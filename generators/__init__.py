"""The built-in generators (installed as ``rls3_generators``), written against the public API in
:mod:`rls3_bench.generator` only, exactly as a contributed generator would be."""
