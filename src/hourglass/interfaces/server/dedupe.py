"""The duplicate check of compaction (compact.py, docs/collector.md "Compaction"): a row is a
duplicate when a row with the same customer and event_id (docs/adr/0004-event-id-per-customer.md) was
received within the window of it, before or after, and is already in the project's dataset or earlier
in the log."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["distinct", "fresh", "seen_ids", "window_files"]


def window_files(project_dir: Path, since: date, own: str) -> list[str]:
    """The project's files in the days from ``since`` on, but this segment's own earlier output."""
    files = []
    with contextlib.suppress(OSError):
        for day_dir in project_dir.iterdir():
            name = day_dir.name
            if not name.startswith("dt=") or not day_dir.is_dir():
                continue
            try:
                if date.fromisoformat(name[3:]) < since:
                    continue
            except ValueError:
                continue
            files += [
                str(f)
                for f in day_dir.iterdir()
                if f.suffix == ".parquet" and not f.name.startswith((".", "_")) and f.name != own
            ]
    return sorted(files)


def seen_ids(files: list[str], event_ids: Any) -> dict[tuple[str, str], list[int]]:
    """(customer, event_id) -> the receive times (µs) of the dataset's rows with one of ``event_ids``."""
    if not files:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(files, format="parquet").to_table(
        columns=["customer", "event_id", "received_at"],
        filter=pc.field("event_id").isin(pc.unique(event_ids)),
    )
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    received = table.column("received_at").cast(pa.int64()).to_pylist()
    for c, e, r in zip(
        table.column("customer").to_pylist(), table.column("event_id").to_pylist(), received, strict=True
    ):
        seen[(c, e)].append(int(r))
    return seen


def fresh(
    customers: list[str],
    event_ids: list[str],
    received: list[int],
    seen: dict[Any, list[int]],
    window_us: int,
) -> list[int]:
    """The indexes of the rows to write: not received within the window of a copy already kept."""
    keep = []
    for i, key in enumerate(zip(customers, event_ids, strict=True)):
        at = received[i]
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = [at]
        elif any(abs(at - other) <= window_us for other in earlier):
            continue
        else:
            earlier.append(at)
        keep.append(i)
    return keep


def distinct(rows: Any) -> int:
    """The number of distinct (customer, event_id) pairs of ``rows``."""
    import pyarrow.compute as pc

    keys = pc.binary_join_element_wise(rows.column("customer"), rows.column("event_id"), "\x00")
    return int(pc.count_distinct(keys).as_py())  # NUL: in no writable text, so the pair is unambiguous
