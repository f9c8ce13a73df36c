"""Throughput and memory benchmark of syncd against the raw DB-API driver and pandas.

``python -m bench --db {sqlite,mariadb,postgresql} --rows N`` builds a fresh source and target
database, loads a check-record-like table and times each way of copying it on the same data
(see docs/performance.md). Every phase runs in its own child process (``python -m bench.phase``)
so its peak resident memory is its own.
"""
