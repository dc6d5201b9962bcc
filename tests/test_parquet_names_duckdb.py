"""engine/parquet_names.py's lookup of the steps' names in a string chunk against DuckDB's own
canonical event (the portable plan's: the value trimmed of its blank edges by raw_step's
REGEXP_REPLACE where it has one, NULL when nothing is left), on hostile bytes: vertical tab, NUL,
control characters, NBSP, ideographic space, line separator (R's fuzz, session 13)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from hourglass.engine import parquet_names
from hourglass.ingest.normalize import EDGE_SPACE, TRIM_PATTERN

ALPHABET = ["a", "b", " ", "\t", "\v", "\x00", "\x1f", "é", "\u00a0", "\u3000", "\n", "!", "\r", "\f", "\x7f"]
ALPHABET += ["\u2028"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _duckdb_positions(
    con: duckdb.DuckDBPyConnection, names: list[str], table: pa.Table
) -> list[tuple[int, int]]:
    edge = "e < '!' OR " + " OR ".join(f"suffix(e, chr({ord(c)}))" for c in EDGE_SPACE)
    listed = "[" + ", ".join(_literal(n) for n in names) + "]"
    canon = (
        f"CASE WHEN {edge} THEN NULLIF(REGEXP_REPLACE(e, {_literal(TRIM_PATTERN)}, '', 'g'), '') ELSE e END"
    )
    con.register("t", table)
    got = con.execute(f"SELECT coalesce(list_position({listed}, {canon}), 0) FROM t").fetchall()
    con.unregister("t")
    return [(i, int(p)) for i, (p,) in enumerate(got) if p]


@pytest.mark.parametrize("block", [1, 3, 1 << 16])
def test_names_are_found_as_duckdb_finds_them(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_names, "_BLOCK", block)
    con = duckdb.connect()
    rng = np.random.default_rng(8 + block)

    def text(k: int) -> str:
        return "".join(ALPHABET[i] for i in rng.integers(0, len(ALPHABET), k))

    for _ in range(40):
        names = sorted({text(int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 6)))})
        # the steps' names are canonical: no blank edge, no NUL, not below '!'
        names = [n for n in names if n >= "!" and not n.endswith(EDGE_SPACE) and "\x00" not in n] or ["a"]
        values = [None if rng.random() < 0.05 else text(int(rng.integers(0, 5))) for _ in range(60)]
        table = pa.table({"e": pa.array(values, pa.string())})
        rows, pos = parquet_names.Names(names).chunk(table.column("e").chunk(0))
        assert list(zip(rows.tolist(), pos.tolist(), strict=True)) == _duckdb_positions(con, names, table)
