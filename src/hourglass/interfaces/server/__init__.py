"""The event collector (``hourglass collect``, issue 13): an HTTP service that accepts Segment and
PostHog payloads (app.py, auth.py, keys.py, limits.py), appends each request to a write-ahead log
(wal.py) and compacts the log into a Parquet dataset partitioned by day and a store every analysis
reads (compact.py, dataset.py). docs/collector.md describes the data directory and its guarantees."""

from __future__ import annotations

__all__: list[str] = []
