"""`python -m bench` (`make bench`): every benchmark, on one seeded instance.

BENCH_INSTANCE (default /tmp/crm-bench) and BENCH_SCALE (default 1) choose the
data set; `bench.screens` seeds it with `crm seed` when it is not there yet.
"""
import os
import sys

from bench import screens, search

screens.main([])
sys.argv = [sys.argv[0], "--instance", os.environ.get("BENCH_INSTANCE", "/tmp/crm-bench"),
            "--scale", os.environ.get("BENCH_SCALE", "1")]
search.main()
