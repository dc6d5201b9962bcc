"""The stage level of ``paths`` and ``transitions`` on a file of very many event names in ONE scan
(issue 18, the `wide` shape): the model check's "which names occur" and the stage rows from the
same rows.

Before, two passes read the 10M plain strings of the `wide` Parquet file: the model check
(engine/event_names.py through engine/raw_names.py: which of the model's names occur, ~0.9 CPU-s)
and the stage scan (engine/journeys_fast.py: the rows of the raw values found by the check,
~0.7 CPU-s and its kernels). Here one query keeps the rows whose raw value is one of the model's
names or has a blank edge (engine/raw_step.py: a raw value canonicalises to a name exactly when it
is that name, or has a blank edge and its trimmed text is the name), and gives each row its *name*
position (1-based, in the model's order), not its stage: the stage is ``index[position]`` in
numpy, the names that occur a ``bincount`` of the positions. The check reads those counts
(engine/raw_names.py ``known_counts``) and the fast path takes the rows (``stage_rows``).

Only where both answers are the same as the two passes': DuckDB, a file (not a store: its codes),
the stage level without a period (the check is over every row, the period's scan over fewer),
stages of plain names (no filter, no pattern, none with a blank edge), the fast path chosen, integer
customers ordered in numpy, the source's rows known from its validation; and either one local
Parquet file that pyarrow reads (engine/parquet_rows.py: per row group in threads, any shape; 10M
`wide` paths 1.38 -> 1.04 CPU-s, `late` 0.89 -> 0.74, bench/WIDE.md session 9) or, through DuckDB,
a raw column of very many distinct values (a Parquet dictionary of a few names is grouped cheaper
by DuckDB: engine/raw_names.py). Else nothing is fetched and the two passes run as before.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hourglass.engine.errors import translated
from hourglass.engine.raw_names import RawNames, many_values, remember_counts
from hourglass.engine.raw_step import EDGE_COLUMN, plain_name, raw_step
from hourglass.model.errors import HourglassError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import numpy.typing as npt

    from hourglass.engine.journeys_order import Done, Threaded
    from hourglass.engine.journeys_seq import Sorted
    from hourglass.engine.load import Events
    from hourglass.engine.stage_sets import Pieces
    from hourglass.model.journeys_spec import PathsSpec, TransitionsSpec

__all__ = ["ARROW_SHAPES", "ONE_SCAN", "StageRows", "drop", "prefetch", "stage_paths", "stage_rows"]

#: the one scan on (off: the two passes, for comparisons)
ONE_SCAN = True
#: the one scan through pyarrow's reader on a Parquet file of any shape (engine/parquet_rows.py),
#: not only on a column of very many values (DuckDB's form of the one scan is kept to those)
ARROW_SHAPES = True


@dataclass(frozen=True)
class StageRows:
    """The one scan's rows: ``c`` (integer customer), ``ts`` (µs), ``node`` (1-based stage), any
    order; ``names`` the model's names in order, ``counts`` the rows of each name that occurs."""

    c: npt.NDArray[Any]
    ts: npt.NDArray[np.int64]
    node: npt.NDArray[np.int32]
    names: tuple[str, ...]
    counts: dict[str, int]
    #: no customer or time is null (else the fast path's own query answers, as ``numpy_sorted``)
    complete: bool = True
    #: the rows split into sets of customers in the reader's threads, each set's pieces in file
    #: order (engine/stage_sets.py: the paths); then ``c``, ``ts``, ``node`` are empty
    sets: tuple[Pieces, ...] | None = None

    def whole(self) -> StageRows:
        """These rows with ``c``, ``ts``, ``node`` every set's rows (set after set)."""
        import numpy as np

        if self.sets is None:
            return self
        pieces = [p for s in self.sets for p in s]
        if not pieces:
            return dataclasses.replace(self, sets=None)
        c, ts, node = (np.concatenate([p[j] for p in pieces]) for j in range(3))
        return dataclasses.replace(self, c=c, ts=ts, node=node, sets=None)


#: the rows of the last :func:`prefetch`, for the fast path's next :func:`stage_rows`: (a weak
#: reference to the events, the key, the rows), replaced as one tuple and taken once
_PENDING: tuple[Any, Any, StageRows | None] = (None, None, None)
#: taking the rows is one step (the dashboard's threads run calls on the same events): one reader
_TAKE = threading.Lock()


def _stages(spec: PathsSpec | TransitionsSpec) -> tuple[list[str], list[int]] | None:
    """The model's names (each once, in order) and each one's 1-based stage; None when a stage has
    a filter or a pattern."""
    if spec.model is None:
        return None
    stages = spec.model.stages
    if any(st.where or any(ch in n for ch in "*?") for st in stages for n in st.events):
        return None
    names = [n for st in stages for n in st.events]
    index = [k for k, st in enumerate(stages, start=1) for _ in st.events]
    if len(set(names)) != len(names):
        return None
    return names, index


def _key(events: Events, names: list[str], index: list[int]) -> tuple[Any, ...]:
    return (id(events), tuple(names), tuple(index))


def _eligible(events: Events, spec: PathsSpec | TransitionsSpec) -> tuple[list[str], list[int]] | None:
    """The names and stages when the one scan answers both the check and the run (module doc)."""
    from hourglass.engine import journeys_fast, journeys_order
    from hourglass.model.journeys_spec import PathsSpec

    if not ONE_SCAN:
        return None
    if events.engine.name != "duckdb" or events.report.kind == "store" or events.codes is not None:
        return None
    if spec.level != "stage" or spec.by is not None or spec.since is not None or spec.until is not None:
        return None
    if isinstance(spec, PathsSpec) and (spec.start is not None or spec.end is not None):
        return None
    if events.keyed is None or events.report.rows <= 0:
        return None
    found = _stages(spec)
    if found is None:
        return None
    try:
        if journeys_fast.journeys_plan_for(events, spec) != "fast":
            return None
    except HourglassError:  # a bad $HOURGLASS_PLAN: raised by the run, after the check, as before
        return None
    if not journeys_order.numpy_order(events, spec, None):
        return None
    return found


def prefetch(events: Events, spec: PathsSpec | TransitionsSpec) -> bool:
    """Run the one scan when it applies (module doc): the model check then reads its counts and
    the fast path its rows. Whether it ran."""
    global _PENDING
    found = _eligible(events, spec)
    if found is None:
        return False
    names, index = found
    keyed = events.keyed
    assert keyed is not None
    ways = _ways(spec)
    # pyarrow's reader first: its conditions (engine/parquet_rows.py ``parquet_source``: the event
    # is ``NULLIF(strip(raw), '')`` of one file's column) and plain names are raw_step's, whose
    # Ibis expressions (~2-7 ms of the main thread) only DuckDB's form needs
    plain = all(plain_name(n) for n in names)
    rows = _read(events, names, index, ways) if ARROW_SHAPES and plain else None
    if rows is None:
        got = raw_step(keyed, [[n] for n in names])
        if got is None:
            return False
        rows = _read(events, names, index, ways) if not ARROW_SHAPES and many_values(events) else None
        if rows is None:
            if not many_values(events):
                return False
            rows = _scan(events, got[0], got[1], names, index)
    remember_counts(events, names, RawNames({}, rows.counts, events.report.rows))
    with _TAKE:
        _PENDING = (weakref.ref(events), _key(events, names, index), rows)
    return True


def _read(events: Events, names: list[str], index: list[int], ways: int | None = None) -> StageRows | None:
    """The rows read by pyarrow (engine/parquet_rows.py: one local Parquet file), else None;
    ``ways``: split into that many sets of customers in the reader's threads
    (engine/stage_sets.py, for the paths), else (None) concatenated in file order."""
    import numpy as np

    from hourglass.engine._pages import small_pages
    from hourglass.engine.parquet_rows import name_parts, parquet_source
    from hourglass.engine.stage_sets import splitter

    cols = parquet_source(events)
    if cols is None:
        return None
    stage = np.asarray([0, *index], dtype=np.int32)
    with small_pages():  # numpy's huge pages: their page faults compact memory (engine/_pages.py)
        got = name_parts(events, cols, names, splitter(stage, ways or 1))
        if got is None:
            return None
        per_name = np.sum([g.counts for g in got], axis=0) if got else np.zeros(len(stage), np.int64)
        counts = {n: int(per_name[k]) for k, n in enumerate(names, start=1) if per_name[k]}
        none = np.zeros(0, np.int64)
        if any(g.sets is None for g in got):
            return StageRows(none, none, np.zeros(0, np.int32), tuple(names), counts, complete=False)
        parts = [g.sets for g in got if g.sets is not None]
        if ways is not None:
            sets = tuple(tuple(p[w] for p in parts) for w in range(ways))
            return StageRows(none, none, np.zeros(0, np.int32), tuple(names), counts, sets=sets)
        whole = [p[0] for p in parts]
        c = np.concatenate([p[0] for p in whole]) if whole else none
        ts = np.concatenate([p[1] for p in whole]) if whole else none
        node = np.concatenate([p[2] for p in whole]) if whole else np.zeros(0, np.int32)
        return StageRows(c, ts, node, tuple(names), counts)


def _scan(events: Events, table: Any, position: str, names: list[str], index: list[int]) -> StageRows:
    """The one query: the rows of the model's names (raw value a name, or a blank edge whose
    trimmed text is one), each with its name's position; not ``complete`` (the names' counts only)
    when a customer or a time is null."""
    import numpy as np

    stamp = table.timestamp.type().is_timestamp()
    sel = table.select(
        c=table.customer, ts=table.timestamp, event=table.event, **{EDGE_COLUMN: table[EDGE_COLUMN]}
    )
    base = events.engine.con.compile(sel)
    listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    us = "epoch_us(ts)" if stamp else "ts"
    sql = (
        f"SELECT c, {us} AS ts, pos FROM (SELECT c, ts, {position} AS pos FROM ({base}) AS r "
        f'WHERE event IN ({listed}) OR "{EDGE_COLUMN}") AS x WHERE pos > 0'
    )
    raw = events.engine.con.con
    hook = getattr(events.engine.con, "_run_pre_execute_hooks", None)
    if hook is not None:  # registers in-memory tables the expression may hold
        hook(sel)
    with translated():
        got = dict(raw.sql(sql).fetchnumpy())
    pos = np.asarray(got["pos"], dtype=np.int64)
    per_name = np.bincount(pos, minlength=len(names) + 1)
    counts = {n: int(per_name[k]) for k, n in enumerate(names, start=1) if per_name[k]}
    if any(np.ma.is_masked(v) for v in got.values()):
        none = np.zeros(0, np.int64)
        return StageRows(none, none, np.zeros(0, np.int32), tuple(names), counts, complete=False)
    stage = np.asarray([0, *index], dtype=np.int32)
    return StageRows(
        np.asarray(got["c"]), np.asarray(got["ts"], dtype=np.int64), stage[pos], tuple(names), counts
    )


def stage_rows(
    events: Events, spec: PathsSpec | TransitionsSpec, threaded: Threaded | None = None
) -> Sorted | Done | None:
    """The fast path's elements from the last :func:`prefetch` of these events and this model (taken
    once), sorted as engine/journeys_order.py ``numpy_sorted`` sorts its fetched rows (or
    ``threaded``'s answer); None when none is waiting (the fast path runs its own scan)."""
    if spec.level != "stage" or spec.since is not None or spec.until is not None:
        return None
    found = _stages(spec)
    rows = None if found is None else _taken(events, found, lambda r: True)
    if rows is None or not rows.complete:  # a null customer or time: the fast path's own query
        return None
    return _sorted(events, rows.whole(), threaded)


def _taken(
    events: Events, found: tuple[list[str], list[int]], ready: Callable[[StageRows], bool]
) -> StageRows | None:
    """The last :func:`prefetch`'s rows of these events and this model's stages (``found``), taken
    (no longer waiting) when ``ready``; None when none such is waiting or they are not ready (then
    left waiting)."""
    global _PENDING
    with _TAKE:
        ref, key, rows = _PENDING
        if ref is None or ref() is not events or rows is None or key != _key(events, *found):
            return None
        if not ready(rows):
            return None
        _PENDING = (None, None, None)
    return rows


def _ways(spec: PathsSpec | TransitionsSpec) -> int | None:
    """The sets of customers the reader splits the rows into: the paths' (engine/stage_sets.py);
    None: the rows whole (the transitions)."""
    from hourglass.engine import grouping, stage_sets
    from hourglass.model.journeys_spec import PathsSpec

    return max(1, grouping.WORKERS) if stage_sets.ENABLED and isinstance(spec, PathsSpec) else None


def stage_paths(events: Events, spec: PathsSpec) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """engine/journeys_fast.py ``fast_paths``'s answer from the last :func:`prefetch`'s rows split
    into sets (taken once; engine/stage_sets.py), or None when none such is waiting (a null
    customer or time: left for :func:`stage_rows`, which declines)."""
    from hourglass.engine._pages import small_pages
    from hourglass.engine.journeys_seq import seq_paths
    from hourglass.engine.stage_sets import set_paths

    found = _stages(spec) if spec.level == "stage" and spec.since is None and spec.until is None else None
    # (rows with a null customer or time stay waiting for stage_rows, which declines them)
    rows = None if found is None else _taken(events, found, lambda r: r.sets is not None and r.complete)
    if found is None or rows is None or rows.sets is None:
        return None
    names, index = found
    present = [k for k, n in zip(index, names, strict=True) if rows.counts.get(n)]
    with small_pages():
        got = set_paths(rows.sets, spec.collapse, spec.steps, spec.top, max(present, default=0))
        if got is None:  # a set's times too wide for the keys: the general order, one thread
            seq = _sorted(events, rows.whole(), None)
            if not isinstance(seq, tuple):  # (not so: no ``threaded``) the fast path's own scan
                return None
            got = seq_paths(seq, spec.collapse, spec.steps, spec.top)
    top, counts = got
    for r in top:
        for i in range(spec.steps):
            if r[f"p{i}"] < 0:
                r[f"p{i}"] = None
    return top, {"customers": counts["customers"] or None, "paths": counts["paths"]}


def _sorted(events: Events, rows: StageRows, threaded: Threaded | None) -> Sorted | Done | None:
    """engine/journeys_order.py ``numpy_sorted`` after its fetch, on the scan's arrays."""
    from hourglass.engine.journeys_order import Done, sorted_in_numpy
    from hourglass.engine.journeys_seq import sorted_from_numpy
    from hourglass.engine.journeys_wide import time_ordered

    # a file's rows in time order (the reader gives them in file order): grouped, not sorted
    ordered = time_ordered(rows.c, rows.ts, rows.node)
    if ordered is not None:
        return ordered
    if threaded is not None:
        done = threaded(rows.c, rows.ts, rows.node)
        if done is not None:
            return Done(done)
    seq = sorted_in_numpy(rows.c, rows.ts, rows.node)
    if seq is None:
        raw = events.engine.con.con
        raw.register(
            view := f"hg_stage_rows_{uuid.uuid4().hex}", {"c": rows.c, "ts": rows.ts, "node": rows.node}
        )
        try:
            with translated():
                got = dict(raw.sql(f"SELECT * FROM {view} ORDER BY 1, 2, 3").fetchnumpy())
            seq = sorted_from_numpy(got)
        finally:
            raw.unregister(view)
    return seq


def drop(events: Events) -> None:
    """Forget rows of ``events`` not taken (the call failed before its fast path read them)."""
    global _PENDING
    with _TAKE:
        ref = _PENDING[0]
        if ref is not None and ref() in (events, None):
            _PENDING = (None, None, None)
