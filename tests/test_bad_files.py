"""Damaged files named with their cause (issue 19, items 7 and 12): a truncated or corrupted Parquet
file is HG206 "not a complete Parquet file" naming the file (never HG699, never "the column named
above"); a CSV line past the reader's limit is HG406 naming that line; a JSON-lines file with a
byte order mark is read as a CSV with one is."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

import hourglass
from hourglass.model.errors import HourglassError
from test_cli import fails, ok


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")


def _parquet(name: str = "good.parquet") -> bytes:
    duckdb.sql(
        "COPY (SELECT 'c' || (i % 50) AS customer_id, CASE WHEN i % 3 = 0 THEN 'visit' ELSE 'signup' END "
        "AS event, TIMESTAMP '2024-01-01' + i * INTERVAL 1 MINUTE AS timestamp FROM range(1000) t(i)) "
        f"TO '{name}' (FORMAT parquet)"
    )
    return Path(name).read_bytes()


def test_damaged_parquet_footers_are_hg206_naming_the_file() -> None:
    data = _parquet()
    footer = int.from_bytes(data[-8:-4], "little")
    rnd = random.Random(19)
    codes: dict[str, int] = {}
    for _ in range(15):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            damaged[rnd.randrange(len(data) - 8 - footer, len(data))] = rnd.randrange(256)
        Path("bad.parquet").write_bytes(bytes(damaged))
        try:
            hourglass.funnel("bad.parquet", ["visit", "signup"])
            code = "ok"
        except HourglassError as e:
            code = e.code
            if e.code.startswith("HG3"):  # a changed column name or type in the schema: said so
                assert e.message.startswith("bad.parquet: "), e.message
            else:
                assert e.code == "HG206", (e.code, e.message)
                assert e.message.startswith("bad.parquet: not a complete Parquet file"), e.message
                assert "column named above" not in str(e.hint)
        codes[code] = codes.get(code, 0) + 1
    assert codes.get("HG206", 0) >= 8, codes  # the rest changed bytes nobody reads (statistics)


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_truncated_parquet_file_is_hg206(keep: float) -> None:
    data = _parquet()
    Path("cut.parquet").write_bytes(data[: int(len(data) * keep)])
    err = fails("funnel", "cut.parquet", "--steps", "visit", code="HG206")
    assert "cut.parquet: not a complete Parquet file (its end is missing (no footer))" in err


def test_the_damaged_file_of_a_glob_is_named() -> None:
    Path("logs").mkdir()
    data = _parquet("logs/a.parquet")
    footer = int.from_bytes(data[-8:-4], "little")
    damaged = bytearray(data)
    start = len(data) - 8 - footer
    damaged[start : start + 40] = b"\xff" * 40  # the footer's first fields: the schema cannot be read
    Path("logs/b.parquet").write_bytes(bytes(damaged))
    err = fails("validate", "logs/*.parquet", code="HG206")
    assert "logs/b.parquet: not a complete Parquet file" in err


def test_a_csv_line_past_the_readers_limit_names_that_line() -> None:
    Path("long.csv").write_text(
        "customer_id,event,timestamp\nc1,visit,2024-01-01 10:00:00\nc1," + "x" * 2_100_000 + ",2024-01-01\n",
        encoding="utf-8",
    )
    err = fails("validate", "long.csv", code="HG406")
    assert "long.csv: line 3 is too long (2,100,015 bytes" in err and "up to 2,000,000 bytes" in err
    assert "type" not in err  # not the type-guessing hint


def test_a_json_lines_file_with_a_byte_order_mark_is_read() -> None:
    rows = [
        {"customer_id": "a", "event": "visit", "timestamp": "2024-01-01 10:00:00"},
        {"customer_id": "a", "event": "signup", "timestamp": "2024-01-01 11:00:00"},
        {"customer_id": "", "event": "visit", "timestamp": "2024-01-01 12:00:00"},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    Path("bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode())
    err = fails("funnel", "bom.jsonl", "--steps", "visit,signup", code="HG401")
    assert "bom.jsonl" in err and "line 3" in err  # the lines of the file itself
    Path("bom.jsonl").write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in rows[:2]).encode())
    data = json.loads(ok("funnel", "bom.jsonl", "--steps", "visit,signup", "--format", "json").stdout)
    assert [s["customers"] for s in data["steps"]] == [1, 1]


# --- item 2: the analysis reads what validation read --------------------------------------------------

ROW = '{{"customer_id": "{c}", "event": "{e}", "timestamp": "2024-01-0{d} 10:00:00"}}\n'


def test_a_small_json_lines_file_is_analysed_as_it_was_validated() -> None:
    Path("g.jsonl").write_text(ROW.format(c="a", e="visit", d=1) + ROW.format(c="a", e="signup", d=2))
    ev = hourglass.events("g.jsonl")
    with open("g.jsonl", "a", encoding="utf-8") as f:  # appended after validation: never analysed
        f.write(ROW.format(c="b", e="visit", d=3) + ROW.format(c="", e="visit", d=4))
    assert [s.customers for s in hourglass.funnel(ev, ["visit", "signup"]).steps] == [1, 1]
    ev.check_unchanged()  # a snapshot: nothing to check


def test_a_parquet_file_rewritten_after_validation_is_hg209() -> None:
    from hourglass.engine.snapshot import check_unchanged, watching

    _parquet("p.parquet")
    ev = hourglass.events("p.parquet")
    hourglass.funnel(ev, ["visit", "signup"])
    ev.check_unchanged()
    with pytest.raises(HourglassError) as err, watching():
        hourglass.events("p.parquet")
        duckdb.sql("COPY (SELECT * FROM 'p.parquet' UNION ALL SELECT * FROM 'p.parquet') TO 'q.parquet'")
        Path("q.parquet").replace("p.parquet")
    assert err.value.code == "HG209" and "p.parquet changed while it was read" in err.value.message
    assert "run again when the file is complete" in str(err.value.hint)
    with pytest.raises(HourglassError, match="changed while it was read"):
        ev.check_unchanged()
    check_unchanged()  # outside a command's block: nothing is watched


def test_rows_appended_during_validation_are_hg209(monkeypatch: pytest.MonkeyPatch) -> None:
    import hourglass.engine.load as load
    import hourglass.ingest.sources as sources

    monkeypatch.setattr(sources, "READ_ONCE_BYTES", 0)  # a view: every query reads the file again
    monkeypatch.setattr(load, "READ_ONCE_BYTES", 0)
    Path("v.csv").write_text("customer_id,event,timestamp\na,visit,2024-01-01 10:00:00\n", encoding="utf-8")
    counted = load.count_expr

    def appending(*args: object) -> object:
        with open("v.csv", "a", encoding="utf-8") as f:
            f.write(",visit,2024-01-02 10:00:00\n")
        return counted(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(load, "count_expr", appending)
    with pytest.raises(HourglassError) as err:
        hourglass.events("v.csv")
    assert err.value.code == "HG209" and "v.csv grew from 56 to 83 bytes" in err.value.message


def _page_damaged() -> Path:
    """A Parquet file whose footer is whole but one of whose data pages is not (a NUL inserted)."""
    data = _parquet("clean.parquet")
    footer = int.from_bytes(data[-8:-4], "little")
    for offset in range(4, len(data) - 8 - footer, 7):
        damaged = data[:offset] + b"\x00" + data[offset : -8 - footer - 1] + data[-8 - footer :]
        Path("pages.parquet").write_bytes(damaged)
        try:
            hourglass.events("pages.parquet")  # validated from the footers' statistics: no page read
        except HourglassError:
            continue
        try:
            duckdb.sql("SELECT max(hash(t)) FROM 'pages.parquet' t").fetchall()
        except duckdb.Error:
            return Path("pages.parquet")
    raise AssertionError("no damaged page found")


def test_validate_reads_every_page_and_an_analysis_names_the_damaged_file() -> None:
    from hourglass.engine.snapshot import watching

    path = _page_damaged()
    err = fails("validate", path, code="HG206")
    assert "pages.parquet: not a complete Parquet file" in err
    with pytest.raises(HourglassError) as e, watching():  # a command's block (the CLI's handle_errors)
        hourglass.funnel(str(path), ["visit", "signup"])
    assert e.value.code == "HG206" and "pages.parquet: not a complete Parquet file" in e.value.message


def test_a_long_line_of_two_byte_characters_is_hg406_with_its_line() -> None:
    head = b"customer_id,event,timestamp\nc0,visit,2024-04-06 14:29:15\n"
    Path("wide.csv").write_bytes(head + b"c1,visit," + "é".encode() * 1_100_000 + b"\n")
    err = fails("validate", "wide.csv", code="HG406")
    assert "wide.csv: line 3 is too long" in err
