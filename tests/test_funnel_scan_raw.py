"""The funnel scan's step match on the raw event text of a file (engine/raw_step.py): the same
funnel as the portable plan on logs whose names carry blank edges of every kind, and the raw match
refused where it would not be exact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import hourglass
from hourglass.engine import raw_step
from hourglass.ingest.normalize import EDGE_SPACE
from test_funnel_properties import forced_plan
from test_funnel_scan import STEPS, _rows, file_scan, returning_log

#: edges a raw value may carry: the trim regex's white space, \v (an edge the gate sees, RE2's \s
#: does not strip), characters that are not white space
EDGES = ["", "", "", " ", "  ", "\t", "\n", "\r", "\f", "\v", "\x01", "\u00a0", "x"]


def _decorated(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = df.copy()
    events = [str(rng.choice(EDGES)) + e + str(rng.choice(EDGES)) for e in out["event"]]
    out["event"] = events  # (blank values are refused by the check: HG402; the step SQL's test has them)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_raw_match_equals_the_portable_plan(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _decorated(returning_log(seed, 30, text_ids=seed % 2 == 0), seed)
    used: list[bool] = []
    real = raw_step.raw_step

    def spy(*args: Any) -> Any:
        got = real(*args)
        used.append(got is not None)
        return got

    monkeypatch.setattr(raw_step, "raw_step", spy)
    with forced_plan("portable"):
        want = hourglass.funnel(df, STEPS, window=86_400)
    with forced_plan("fast"), file_scan(None):
        got = hourglass.funnel(df, STEPS, window=86_400)
    assert used == [True]
    assert _rows(got) == _rows(want)
    assert _rows(got)[0]["customers"] > 0


def _canonical(t: Any, event: Any) -> Any:
    # the form of a loaded file's table: a projection of the canonical columns, selected again
    inner = t.select("customer", event=event, timestamp=t.timestamp)
    return inner.select("customer", "event", "timestamp")


def test_step_sql_on_raw_text_equals_the_canonical_lookup() -> None:
    # every value of an alphabet of edges and names: the CASE on the raw text gives the step of the
    # canonical text (NULLIF(strip(x), ''))
    import ibis

    from hourglass.ingest.normalize import strip

    steps = [["visit"], ["sign up", "signup"], ["buy"]]
    alphabet = [" ", "\t", "\n", "\v", "\f", "\r", "\x01", "\u00a0", "visit", "signup", "sign up", "buy", "b"]
    rng = np.random.default_rng(5)
    values: list[str | None] = [None, "", "visit", " visit ", "visit\v", "\vvisit"]
    values += ["".join(rng.choice(alphabet, size=rng.integers(1, 4))) for _ in range(3000)]
    t = ibis.memtable({"customer": list(range(len(values))), "event": values, "timestamp": [0] * len(values)})
    canon = _canonical(t, strip(t.event).nullif(""))
    got = raw_step.raw_step(canon, steps)
    assert got is not None
    table, step = got
    con = ibis.duckdb.connect()
    sql = con.compile(table)
    con._run_pre_execute_hooks(table)  # registers the in-memory table
    raw_steps = con.con.execute(f"SELECT {step} FROM ({sql}) AS s ORDER BY customer").fetchall()
    names = [n for s in steps for n in s]
    index = [k for k, s in enumerate(steps, start=1) for _ in s]
    canonical = con.execute(canon.order_by("customer").event).tolist()
    want = [index[names.index(c)] if isinstance(c, str) and c in names else 0 for c in canonical]
    assert [r[0] for r in raw_steps] == want
    assert sum(w > 0 for w in want) > 100


def test_raw_match_refused_where_it_would_not_be_exact() -> None:
    import ibis

    from hourglass.ingest.normalize import strip

    assert raw_step.plain_name("visit") and raw_step.plain_name("sign up")
    assert not any(raw_step.plain_name(n) for n in ["", " visit", "visit ", "visit\v", "\x01a"])
    assert all(not raw_step.plain_name("a" + c) for c in EDGE_SPACE)
    t = ibis.memtable({"customer": [1], "event": ["a"], "timestamp": [0]})
    assert raw_step.raw_step(_canonical(t, strip(t.event).nullif("")), [["a"]]) is not None
    assert raw_step.raw_step(_canonical(t, strip(t.event).nullif("")), [["visit ", "a"]]) is None
    # another canonical form (lower case): the raw text is not the canonical one
    assert raw_step.raw_step(_canonical(t, strip(t.event.lower()).nullif("")), [["a"]]) is None
    assert raw_step.raw_step(t, [["a"]]) is None
