"""Benchmarks of deployd against a private sandbox engine; run with make bench."""
