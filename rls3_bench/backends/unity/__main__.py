"""``python -m rls3_bench.backends.unity write-catalogue [PATH]``."""

from rls3_bench.backends.unity.catalogue import main

raise SystemExit(main())
