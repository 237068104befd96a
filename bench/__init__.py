"""Benchmarks that measure Kota against a floor it cannot beat; run with ``make bench``."""
