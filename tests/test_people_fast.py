"""A Sankey node's people from the journeys fast path's numpy kernels (engine/paths_people.py) equal
the portable expression's (analyses/people.py ``path_node_people``): seeded logs with repeats to
collapse, ties in time, customers with fewer runs than the depth, paths from and up to an anchor,
on a store (its keys decoded) and on integer customer ids; and the dashboard's route on a store."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hourglass.analyses.paths import paths_plan
from hourglass.analyses.people import path_node_people
from hourglass.engine.event_store import write_store
from hourglass.engine.load import Events
from hourglass.engine.paths_people import CustomerPaths, customer_paths_np, decode_keys
from hourglass.engine.store import write_events
from hourglass.ingest.config import load_model
from hourglass.interfaces import api
from hourglass.model.journeys_spec import PathsSpec

EVENTS = ["visit", "ad_click", "signup", "webinar", "demo", "purchase", "repeat_purchase", "review", "other"]


def _log(seed: int, customers: int, integer: bool, unit: str = "hours") -> pa.Table:
    """Customers of 1 to 9 events, times on a coarse grid (ties in time, also between stages), the
    same stage often twice in a row (runs to collapse), some events of no stage."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)
    ids: list[Any] = []
    events, stamps = [], []
    for c in range(customers):
        t = start + timedelta(**{unit: rng.randrange(0, 2000)})
        for _ in range(rng.randint(1, 9)):
            ids.append(c * 7 + 3 if integer else f"u{c:05d}")
            events.append(rng.choice(EVENTS))
            stamps.append(t)
            t += timedelta(**{unit: rng.choice([0, 0, 1, 5])})
    order = list(range(len(ids)))
    rng.shuffle(order)  # the log's rows in no order
    return pa.table(
        {
            "customer_id": pa.array([ids[i] for i in order]),
            "event": pa.array([events[i] for i in order]),
            "timestamp": pa.array([stamps[i] for i in order], pa.timestamp("us")),
        }
    )


@pytest.fixture(scope="module", params=["store", "integer"])
def events(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Events:
    d = tmp_path_factory.mktemp(f"people-{request.param}")
    write_events(_log(21, 400, request.param == "integer"), parquet_path=d / "log.parquet")
    if request.param == "integer":
        return api.events(str(d / "log.parquet"))
    write_store(api.events(str(d / "log.parquet")), d / "log.duckdb")
    return api.events(str(d / "log.duckdb"))


def _tops(spec: PathsSpec, ev: Events) -> tuple[list[list[int]], int]:
    """The portable plan's top paths as node rows (-1 past the end) and the longest one's length."""
    top = ev.engine.execute(paths_plan(spec, ev.table).top)
    cols = [f"p{i}" for i in range(spec.steps)]
    rows = [[-1 if v != v or v is None else int(v) for v in r] for r in top[cols].itertuples(index=False)]
    return rows, max((sum(v > 0 for v in r) for r in rows), default=0)


@pytest.mark.parametrize(
    ("start", "end", "depth", "collapse"),
    [(None, None, 4, True), (None, None, 3, False), ("interest", None, 3, True), (None, "sale", 4, True)],
)
def test_a_nodes_people_are_the_portable_expressions(
    events: Events, start: str | None, end: str | None, depth: int, collapse: bool
) -> None:
    jm = load_model("hourglass", None)
    since = datetime(2024, 2, 1) if not collapse else None  # a period: the elements framed by it
    spec = PathsSpec.build(
        jm, level="stage", depth=depth, top=6, collapse=collapse, start=start, end=end, since=since
    )
    fast = customer_paths_np(events, spec)
    assert isinstance(fast, CustomerPaths)  # the numpy kernels ran
    tops, width = _tops(spec, events)
    names = [s.name for s in jm.stages]
    checked = 0
    for step in range(1, width + 1):
        at = width - step if spec.direction == "reverse" else step - 1
        shown = sorted({r[at] for r in tops if r[at] > 0})[-2:]  # Sankey nodes at the step
        absent = [k for k in range(1, len(names) + 1) if k not in shown][: step == 1]  # one it lacks
        for k in shown + absent:
            name = names[k - 1]
            want = events.engine.execute(path_node_people(spec, events.table, step, name, width))
            rows = fast.on_paths(tops, at, k)
            got = decode_keys(events, fast.keys[rows])
            assert sorted(got) == sorted(want["customer"].astype(str)), (step, name)
            if len(want):
                checked += 1
                by_id = dict(zip(got, fast.more[rows].tolist(), strict=True))
                assert [by_id[c] for c in want["customer"].astype(str)] == [bool(m) for m in want["more"]]
                nodes = dict(zip(got, fast.nodes[rows].tolist(), strict=True))
                p = [f"p{i}" for i in range(spec.steps)]
                assert [nodes[c] for c in want["customer"].astype(str)] == [
                    [-1 if v is None or v != v else int(v) for v in r]
                    for r in want[p].itertuples(index=False)
                ]
    assert checked >= 3


def test_declined_where_the_fast_path_does_not_run(events: Events, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = PathsSpec.build(load_model("hourglass", None), level="stage", depth=3)
    monkeypatch.setenv("HOURGLASS_PLAN", "portable")
    assert customer_paths_np(events, spec) is None


def test_a_sankey_click_on_a_store_lists_the_nodes_customers(tmp_path: Path) -> None:
    import csv
    import io
    import re
    import warnings

    from hourglass.interfaces import journeys_api
    from hourglass.interfaces.dashboard import create_app, load_source

    with warnings.catch_warnings():  # starlette's notice about httpx, at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    write_events(_log(5, 300, False), parquet_path=tmp_path / "log.parquet")
    write_store(api.events(str(tmp_path / "log.parquet")), tmp_path / "log.duckdb")
    src = load_source(str(tmp_path / "log.duckdb"))
    paths = journeys_api.paths(src.events, "hourglass", top=5).to_dict()
    with TestClient(create_app(src), base_url="http://127.0.0.1") as client:
        client.get("/journeys?top=5")
        for n in paths["sankey"]["nodes"][:4]:
            q = f"top=5&node={n['name']}&node_step={n['step']}"
            r = client.get(f"/journeys/people?{q}", headers={"X-HG-Fragment": "1"})
            m = re.search(r'data-total="(\d+)"', r.text)
            assert r.status_code == 200 and m and int(m.group(1)) == n["customers"], n
            got = client.get(f"/journeys/people.csv?{q}")
            rows = list(csv.DictReader(io.StringIO(got.text)))
            assert len(rows) == n["customers"] and all(n["name"] in row["path"] for row in rows)
            assert all(row["customer"].startswith("u") for row in rows)  # the ids, not the keys
        edges = journeys_api.transitions(src.events, "hourglass").to_dict()["edges"]
        for e in sorted(edges, key=lambda x: -x["customers"])[:3]:
            q = f"move_from={e['from']}&move_to={e['to'] or '(end)'}"
            rows = list(csv.DictReader(io.StringIO(client.get(f"/journeys/people.csv?{q}").text)))
            assert len(rows) == e["customers"] and sum(int(r["moves"]) for r in rows) == e["moves"], e
            assert all(row["customer"].startswith("u") and row["first_move_at"] for row in rows)


@pytest.mark.parametrize("top_node", [6, 200])
def test_on_paths_packs_or_compares_the_rows(top_node: int) -> None:
    import numpy as np

    nodes = np.array([[1, 6, -1], [1, 6, 2], [1, top_node, -1], [2, 6, -1], [1, 5, -1]], dtype=np.int16)
    fast = CustomerPaths(np.arange(5, dtype=np.int64) * 10, nodes, np.zeros(5, dtype=bool))
    tops = [[1, 6, -1], [1, 6, 2], [2, 6, -1], [1, top_node, -1]]
    assert fast.on_paths(tops, 1, 6).tolist() == ([0, 1, 2, 3] if top_node == 6 else [0, 1, 3])
    assert fast.on_paths(tops, 0, 1).tolist() == [0, 1, 2]
    assert fast.on_paths([[1, 5, -1]], 1, 6).tolist() == []
    assert fast.on_paths([[1, 7, -1]], 1, 7).tolist() == []  # a node no customer has


def test_distinct_paths_name_the_rows_by_their_few_paths() -> None:
    import numpy as np

    nodes = np.array([[1, 6, -1], [1, 6, 2], [1, 6, -1], [2, 6, -1]], dtype=np.int16)
    fast = CustomerPaths(np.arange(4, dtype=np.int64), nodes, np.zeros(4, dtype=bool))
    rows = np.array([0, 1, 2], dtype=np.intp)
    paths, inverse = fast.distinct_paths(rows)
    assert paths[inverse].tolist() == nodes[rows].tolist() and len(paths) == 2


def test_declined_not_raised_where_the_forced_fast_path_cannot_run(
    events: Events, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "twice.yaml").write_text(
        "name: twice\nkind: funnel\nstages:\n- name: a\n  events: [visit, signup]\n"
        "- name: b\n  events: [signup, purchase]\nsale: b\n"
    )  # signup in two stages: the fast path cannot run
    spec = PathsSpec.build(load_model(str(tmp_path / "twice.yaml"), None), level="stage", depth=3)
    monkeypatch.setenv("HOURGLASS_PLAN", "fast")
    assert customer_paths_np(events, spec) is None


@pytest.mark.parametrize(
    ("source", "target"), [("awareness", "interest"), ("trust", "awareness"), ("sale", None)]
)
def test_a_transition_cells_people_are_the_portable_expressions(
    events: Events, source: str, target: str | None
) -> None:
    from hourglass.analyses.people import transition_people
    from hourglass.engine.paths_people import transition_people_np
    from hourglass.model.journeys_spec import TransitionsSpec

    jm = load_model("hourglass", None)
    index = {s.name: i + 1 for i, s in enumerate(jm.stages)}
    for since in (None, datetime(2024, 2, 1)):
        spec = TransitionsSpec.build(jm, level="stage", collapse=True, since=since)
        fast = transition_people_np(events, spec, index[source], None if target is None else index[target])
        assert fast is not None
        want = events.engine.execute(transition_people(spec, events.table, source, target))
        assert len(want) > 0
        pairs = zip(fast.moves.tolist(), fast.first_at.tolist(), strict=True)
        got = dict(zip(decode_keys(events, fast.keys), pairs, strict=True))
        assert got == {
            str(c): (int(m), int(f))
            for c, m, f in zip(want["customer"], want["moves"], want["first_at"], strict=True)
        }
