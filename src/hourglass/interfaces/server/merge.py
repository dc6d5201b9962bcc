"""Merging a past day's small files: each compaction pass writes one file per segment, project and day
(every 30 s under steady traffic: ~2,900 files a day per collector), which the duplicate check and
every reader of the dataset would open one by one. Once a day is over (received two days ago or
earlier) its files are merged into one, sorted by (customer, timestamp); a day not over yet is merged
whenever it has :data:`MERGE_AT` files (docs/collector.md, "Compaction").

Killed at any point, nothing is lost or doubled: the inputs and the output are first written to an
intent file ``dt=DAY/.merge.json`` (fsync'ed); the merged file is written aside and renamed into place;
then the inputs are deleted, then the intent. A pass that finds an intent finishes it (the output is in
place: delete the inputs it names) or drops it (it is not: the inputs are all still there). Runs under
the compaction lock, so the store's refresh never reads a day in the middle of its merge; a reader of
the dataset itself may, for a moment, see a day's rows twice."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

from hourglass.interfaces.server.dataset import fsync_dir

__all__ = ["INTENT", "MERGE_AT", "merge_days"]

INTENT = ".merge.json"
#: a day not over yet is merged when it has this many files (the duplicate check reads them each pass)
MERGE_AT = 64
_PREFIX = "merged-"


def _visible(day_dir: Path) -> list[Path]:
    return sorted(
        f for f in day_dir.iterdir() if f.suffix == ".parquet" and not f.name.startswith((".", "_"))
    )


def _finish(day_dir: Path) -> None:
    """Complete or drop a merge that was interrupted (its intent file)."""
    intent = day_dir / INTENT
    (day_dir / f"{INTENT}.tmp").unlink(missing_ok=True)
    if not intent.exists():
        return
    try:
        plan = json.loads(intent.read_text(encoding="utf-8"))
        inputs, output = [str(n) for n in plan["inputs"]], str(plan["output"])
    except (ValueError, KeyError, TypeError):  # an intent cut short: written before anything else
        inputs, output = [], ""
    if output and (day_dir / output).exists():
        for name in inputs:
            if name != output:
                (day_dir / name).unlink(missing_ok=True)
        fsync_dir(day_dir)
    for tmp in day_dir.glob(f".{_PREFIX}*.tmp"):
        tmp.unlink(missing_ok=True)
    intent.unlink(missing_ok=True)
    fsync_dir(day_dir)


def _merge(day_dir: Path, files: list[Path], checkpoint: Callable[[str], None]) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    numbers = [
        int(f.stem[len(_PREFIX) :])
        for f in files
        if f.name.startswith(_PREFIX) and f.stem[len(_PREFIX) :].isdigit()
    ]
    output = f"{_PREFIX}{max(numbers, default=0) + 1:06d}.parquet"
    plan = json.dumps({"inputs": [f.name for f in files], "output": output})
    tmp_intent = day_dir / f"{INTENT}.tmp"
    tmp_intent.write_text(plan, encoding="utf-8")
    with open(tmp_intent, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp_intent, day_dir / INTENT)
    fsync_dir(day_dir)
    checkpoint("merge: intent written")
    table = ds.dataset([str(f) for f in files], format="parquet").to_table()
    table = table.sort_by([("customer", "ascending"), ("timestamp", "ascending")])
    tmp = day_dir / f".{output}.{os.getpid()}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    checkpoint("merge: renaming")
    os.replace(tmp, day_dir / output)
    fsync_dir(day_dir)
    for f in files:
        checkpoint("merge: deleting an input")
        f.unlink()
    fsync_dir(day_dir)
    (day_dir / INTENT).unlink()
    fsync_dir(day_dir)


def merge_days(
    events_root: Path, before: date, checkpoint: Callable[[str], None] = lambda step: None
) -> list[str]:
    """Merge the files of every project's days before ``before`` that have more than one, and of
    later days that have :data:`MERGE_AT`; finish interrupted merges first. The day directories
    merged."""
    merged: list[str] = []
    with contextlib.suppress(FileNotFoundError):
        for project_dir in sorted(p for p in events_root.iterdir() if p.is_dir()):
            if project_dir.name.startswith((".", "_")):
                continue
            for day_dir in sorted(project_dir.glob("dt=*")):
                try:
                    day = date.fromisoformat(day_dir.name[3:])
                except ValueError:
                    continue
                if day >= before and not (day_dir / INTENT).exists():
                    files = _visible(day_dir)  # a day not over: merged when its files pile up
                    if len(files) < MERGE_AT:
                        continue
                _finish(day_dir)
                files = _visible(day_dir)
                if len(files) > 1:
                    _merge(day_dir, files, checkpoint)
                    merged.append(str(day_dir))
    return merged
