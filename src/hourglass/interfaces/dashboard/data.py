"""The dashboard's source, loaded once and kept, and its bounded cache of results.

A result is cached per (source identity, view, normalised query): the identity is the source's
path, modification time and size, so a rewritten file is a new source version, never a stale hit.
The engine runs one query at a time (a DuckDB connection is not shared between threads)."""

from __future__ import annotations

import glob
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import ibis

from hourglass.engine.huge_pages import huge_pages_off
from hourglass.engine.load import Events
from hourglass.ingest.config import Config, load_config, load_model
from hourglass.interfaces import api
from hourglass.model.schema import ColumnMapping

from .disk_cache import DiskCache

__all__ = ["DashboardSource", "EventName", "ResultCache", "load_source", "source_identity"]

T = TypeVar("T")


@dataclass(frozen=True)
class EventName:
    name: str
    events: int
    customers: int


def _files(source: str) -> list[str]:
    path = source
    if not os.path.exists(path) and ":" in path:  # db.duckdb:table
        path = path.rsplit(":", 1)[0]
    if os.path.exists(path):
        return [path]
    return sorted(glob.glob(path))


def source_identity(source: Any) -> tuple[Hashable, ...]:
    """(path, mtime, size) of each file of a path/glob source; an in-memory source is itself."""
    if not isinstance(source, str | os.PathLike):
        return ("memory", id(source))
    files = _files(os.fspath(source))
    out: list[Hashable] = [os.fspath(source)]
    for f in files:
        st = os.stat(f)
        out.append((os.path.abspath(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


@dataclass
class DashboardSource:
    """The loaded events and what the forms offer: event names with counts, columns, time range."""

    label: str
    identity: tuple[Hashable, ...]
    events: Events
    names: list[EventName]
    columns: list[str]
    first: datetime | None
    last: datetime | None
    rows: int
    spend: str | None = None
    config: Config = field(default_factory=Config)
    models: list[str] = field(default_factory=list)  # ``serve --model``: the pages' models, first the default
    config_path: str | None = None  # the config file (its version is part of the results' context)
    options: tuple[Hashable, ...] = ()  # how it was read (columns, engine, table): also the context's
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the engine, one at a time (none once ``closed``: a stopped worker's next
        query, which its interrupted job's error handling may try, must not start)."""
        with self.lock:
            if self.closed.is_set():
                raise RuntimeError("the dashboard's work ahead was stopped")
            return fn()

    @property
    def default_model(self) -> str:
        """The lifecycle and journeys pages' model when the URL names none."""
        return self.models[0] if self.models else "hourglass"

    @property
    def breakdown_columns(self) -> list[str]:
        """Columns a breakdown can use: all but the customer, event, time and ids."""
        skip = {"customer", "event", "timestamp", "event_id", "revenue", "referrer"}
        return [c for c in self.columns if c not in skip]


def _stamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
        return pd.Timestamp(value).to_pydatetime()
    except (TypeError, ValueError):
        return None


def load_source(
    source: Any,
    *,
    columns: ColumnMapping | Mapping[str, Any] | None = None,
    engine: str | None = None,
    table: str | None = None,
    config: str | None = None,
    spend: str | None = None,
    models: Sequence[str] = (),
) -> DashboardSource:
    """Load and validate the source once (coded errors as in the CLI) and read its event names.
    ``models``: built-in names or model files the pages offer first (the first is the lifecycle and
    journeys pages' default); each is checked before the source is read."""
    # the server's process without transparent huge pages: their page faults were 0.7-3 system
    # CPU-s of a new hourglass range at 10M events (engine/huge_pages.py)
    huge_pages_off()
    identity = source_identity(source)
    cfg = load_config(config)
    for name in models:
        load_model(name, cfg)  # "no built-in model 'x'" / a bad file fails before any work
    ev = api.events(source, columns=columns, engine=engine, table=table, config=cfg)
    t = ev.table
    counts = ev.engine.execute(
        t.group_by("event")
        .aggregate(events=t.count(), customers=t.customer.nunique())
        .order_by([ibis.desc("events"), "event"])
    )
    names = [
        EventName(str(r.event), int(r.events), int(r.customers))
        for r in counts.itertuples(index=False)
        if r.event is not None
    ]
    bounds = ev.engine.execute(t.aggregate(lo=t.timestamp.min(), hi=t.timestamp.max()))
    label = os.fspath(source) if isinstance(source, str | os.PathLike) else type(source).__name__
    return DashboardSource(
        label=label,
        identity=identity,
        events=ev,
        names=names,
        columns=list(t.columns),
        first=_stamp(bounds["lo"].iloc[0]),
        last=_stamp(bounds["hi"].iloc[0]),
        rows=int(ev.report.rows),
        spend=spend,
        config=cfg,
        models=list(dict.fromkeys(models)),
        config_path=config,
        options=(repr(columns), engine, table),
    )


class ResultCache:
    """A bounded LRU of computed results; ``hits``/``misses`` for tests and the bench. A result
    being computed is computed once: a second request for it waits for the first (a click on a
    bar while its people are prefetched in the background). With ``disk`` (disk_cache.py), a key
    ``(source identity, view, query)`` of a view it keeps is read from disk before it is computed,
    and written there once computed (a restart reuses it)."""

    def __init__(self, size: int = 256, disk: DiskCache | None = None) -> None:
        self.size = size
        self.disk = disk
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        while True:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return self._data[key]  # type: ignore[no-any-return]
                running = self._pending.get(key)
                if running is None:
                    self.misses += 1
                    done = self._pending[key] = threading.Event()
                    break
            running.wait()  # then read it (or, if it failed, compute it here: errors are not cached)
        try:
            value = self._load(key, compute)  # outside the lock: errors are not cached
            with self._lock:
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._pending[key]
            done.set()

    def _load(self, key: Hashable, compute: Callable[[], T]) -> T:
        """From disk when it is there (a view it keeps), else computed (and written to disk)."""
        if self.disk is None or not (isinstance(key, tuple) and len(key) == 3 and isinstance(key[1], str)):
            return compute()
        view, query = key[1], key[2]
        found, value = self.disk.get(view, query)
        if found:
            return value  # type: ignore[no-any-return]
        value = compute()
        self.disk.put(view, query, value)
        return value
