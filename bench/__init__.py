"""``make bench``: every ``bench/bench_*.py`` in its own process (clean peak RSS), figures as
ratios against a baseline measured in the same run. Never part of ``make test``."""
