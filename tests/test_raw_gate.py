"""The raw-text gate of a file's funnel scan (engine/fastpath_scan.py ``raw_gate_sql``): comparisons
that keep every raw event whose canonical text (``NULLIF(strip(raw), '')``) is a step's name, checked
on DuckDB over an alphabet of names, blank edges of every kind, prefixes and extensions of the names
and multi-byte characters; and the funnel with and without it, against the portable plan."""

from __future__ import annotations

import numpy as np
import pytest

import hourglass
from hourglass.engine import fastpath_scan
from test_funnel_properties import forced_plan
from test_funnel_scan import STEPS, _rows, file_scan, returning_log
from test_funnel_scan_raw import _decorated

NAMES = ["visit", "sign up", "signup", "buy", "b", "it's", "café", "zz"]
#: the names' pieces, edges (white space, \v, control characters, NBSP) and characters sorting next
#: to the names' own
ALPHABET = [" ", "\t", "\n", "\v", "\f", "\r", "\x01", "\x1f", "!", "\u00a0", "é", "~", "\x7f"]
ALPHABET += ["visit", "sign", "up", "signup", "buy", "b", "it", "'s", "caf", "café", "z", "zz", "a"]


def _values(seed: int, count: int) -> list[str]:
    rng = np.random.default_rng(seed)
    values = ["", "visit", " visit", "visit ", "visit!", "visi", "visitor", "\u00a0visit", "b\x00", "zz\t\t"]
    values += ["".join(rng.choice(ALPHABET, size=rng.integers(1, 5))) for _ in range(count)]
    return values


@pytest.mark.parametrize("seed", [1, 2])
def test_the_gate_keeps_every_value_whose_canonical_text_is_a_name(seed: int) -> None:
    import duckdb

    gate = fastpath_scan.raw_gate_sql(NAMES, column="v")
    assert gate is not None
    con = duckdb.connect()
    values = _values(seed, 4000)
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    canonical = "NULLIF(REGEXP_REPLACE(v, '^\\s+|\\s+$', '', 'g'), '')"  # ingest/normalize.py strip
    names = ", ".join("'" + n.replace("'", "''") + "'" for n in NAMES)
    wanted = {i for (i,) in con.execute(f"SELECT i FROM t WHERE {canonical} IN ({names})").fetchall()}
    kept = {i for (i,) in con.execute(f"SELECT i FROM t WHERE {gate}").fetchall()}
    assert wanted <= kept
    assert len(wanted) > 200  # the alphabet makes names, with and without edges
    assert len(kept) < len(values)  # it is a filter


def test_the_gate_lists_a_bounded_number_of_names() -> None:
    assert fastpath_scan.raw_gate_sql([]) is None
    assert fastpath_scan.raw_gate_sql([f"e{i}" for i in range(fastpath_scan.RAW_GATE_NAMES + 1)]) is None
    gate = fastpath_scan.raw_gate_sql(["b", "a", "a"])
    ranges = "(\"event\" >= 'a' AND \"event\" < 'a!') OR (\"event\" >= 'b' AND \"event\" < 'b!')"
    hull = "\"event\" >= 'a' AND \"event\" < 'b!'"
    assert gate == f"(\"event\" < '!' OR ({hull} AND ({ranges})))"
    assert fastpath_scan.raw_gate_sql(["a"]) == "(\"event\" < '!' OR (\"event\" >= 'a' AND \"event\" < 'a!'))"
    # the hull's upper bound is the greatest N || '!', not the greatest name's
    assert "< 'sign!'" in (fastpath_scan.raw_gate_sql(["sign", "sign up"]) or "").split(" AND (")[0]


@pytest.mark.parametrize("seed", [5, 6])
@pytest.mark.parametrize("gate", [True, False])
def test_the_funnel_with_the_gate_equals_the_portable_plan(
    seed: int, gate: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = _decorated(returning_log(seed, 30, text_ids=False), seed)
    monkeypatch.setattr(fastpath_scan, "RAW_GATE", gate)
    gates: list[str | None] = []
    real = fastpath_scan.raw_gate_sql

    def spy(names: list[str]) -> str | None:
        gates.append(real(names))
        return gates[-1]

    monkeypatch.setattr(fastpath_scan, "raw_gate_sql", spy)
    zeros: list[int] = []
    fetch = fastpath_scan._fetch

    def fetched(raw: object, sql: str) -> dict[str, np.ndarray]:
        got = fetch(raw, sql)
        zeros.append(int((got["s"] == 0).sum()))
        return got

    monkeypatch.setattr(fastpath_scan, "_fetch", fetched)
    with forced_plan("portable"):
        want = hourglass.funnel(df, STEPS, window=86_400)
    with forced_plan("fast"), file_scan(None) as scans:
        got = hourglass.funnel(df, STEPS, window=86_400)
    assert scans  # the scan plan answered
    assert len(gates) == gate and all(gates)  # the gate was in the scan's SQL (when on)
    # behind the gate the rows of no step come to numpy (values the gate keeps, "\x01visit"), which
    # drops them; without it, DuckDB's filter does
    assert (zeros[0] > 0) == gate
    assert _rows(got) == _rows(want)
    assert _rows(got)[0]["customers"] > 0
