"""Error messages cite physical lines: ``ingest/lines.py`` maps record numbers to the lines they start
on. Random CSV and JSON-lines files (quoted line breaks, doubled quotes, delimiters in values, empty
lines, CRLF) are written with each record's start line recorded; the mapping must give those lines,
and DuckDB must read the same records in the same order (so the numbering is the reader's)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hourglass.ingest.lines import CsvDialect, jsonl_record_lines, ragged_csv_lines, record_lines

QUOTED = st.text(alphabet="ab ,;\"'\n#", min_size=0, max_size=6)  # written in quotes
# written as they are: no delimiter or line break, not starting with a quote (a quote later in the
# field is text to the reader: 5" screen; DuckDB rejects a field whose first character after blanks
# is a quote it does not open)
RAW = st.text(alphabet="ab \"';", min_size=1, max_size=6).filter(
    lambda v: v.strip() != "" and v.lstrip()[0] != '"'
)
FIELD = st.one_of(QUOTED.map(lambda v: ("q", v)), RAW.map(lambda v: ("raw", v)))
RECORD = st.tuples(FIELD, FIELD, FIELD)


def _field(kind_value: tuple[str, str]) -> str:
    kind, value = kind_value
    return '"' + value.replace('"', '""') + '"' if kind == "q" else value


@settings(max_examples=80, deadline=None)
@given(
    records=st.lists(RECORD, min_size=1, max_size=12),
    empties=st.lists(st.integers(0, 2), min_size=13, max_size=13),
    crlf=st.booleans(),
)
def test_csv_record_lines_are_where_the_records_start(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[tuple[str, str], ...]],
    empties: list[int],
    crlf: bool,
) -> None:
    end = "\r\n" if crlf else "\n"
    out, starts, line = io.StringIO(), [], 2
    out.write("x,y,z" + end)
    for rec, gap in zip(records, empties, strict=False):
        out.write(end * gap)  # empty lines between records
        line += gap
        text = ",".join(_field(f) for f in rec) + end
        starts.append(line)
        line += text.count("\n")
        out.write(text)
    path = tmp_path_factory.mktemp("csv") / "ev.csv"
    path.write_bytes(out.getvalue().encode())
    got = record_lines(path, range(1, len(records) + 1), CsvDialect(quote='"'))
    assert got == dict(enumerate(starts, start=1))
    rows = duckdb.sql(
        f"SELECT * FROM read_csv('{path}', delim=',', quote='\"', escape='\"', header=true, all_varchar=true)"
    ).fetchall()
    want = [tuple(v for _, v in rec) for rec in records]
    assert [tuple(v or "" for v in r) for r in rows] == want


def test_csv_rows_past_the_end_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text("a,b\n1,2\n\n3,4\n")
    assert record_lines(path, [1, 2, 3]) == {1: 2, 2: 4}
    assert record_lines(path, []) == {}


def test_csv_preamble_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text('exported\n\na;b\n# note\n1;"x\n# not a comment"\n2;y\n')
    dialect = CsvDialect(delimiter=";", comment="#", skip=2)
    assert record_lines(path, [1, 2], dialect) == {1: 5, 2: 7}


def test_backslash_escaped_quotes_do_not_close_the_field(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text('a,b\n1,"say \\"hi\n there"\n2,z\n')
    assert record_lines(path, [1, 2], CsvDialect(escape="\\")) == {1: 2, 2: 4}


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.text(alphabet='ab \n{}"', max_size=5), min_size=1, max_size=10),
    gaps=st.lists(st.sampled_from(["", "\n", "   \n", "\n\t\n"]), min_size=11, max_size=11),
)
def test_jsonl_record_lines_point_at_the_record(
    tmp_path_factory: pytest.TempPathFactory, values: list[str], gaps: list[str]
) -> None:
    text = "".join(g + json.dumps({"v": v}) + "\n" for v, g in zip(values, gaps, strict=False))
    path = tmp_path_factory.mktemp("jsonl") / "ev.jsonl"
    path.write_text(text)
    sql = f"SELECT v FROM read_json('{path}', format='newline_delimited')"
    read = [r[0] for r in duckdb.sql(sql).fetchall()]
    assert read == values
    lines = text.split("\n")
    got = jsonl_record_lines(path, range(1, len(values) + 1))
    assert [json.loads(lines[got[i] - 1])["v"] for i in range(1, len(values) + 1)] == values


def test_ragged_lines(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text('\na,b,c\n1,2,3\n\n  \n1,"2,3",4\n1,"x\ny,z",3\n1,2\n5,6,7,8\n9,9,9\n0\n')
    header, bad = ragged_csv_lines(path, limit=3)
    assert header == 3
    # the record on lines 7-8 has its 3 fields across two lines
    assert bad == [(5, 1, "  "), (9, 2, "1,2"), (10, 4, "5,6,7,8")]


@pytest.mark.parametrize(
    ("text", "dialect", "lines"),
    [
        # a quote inside an unquoted field is text; the record after it starts where it seems
        ('a,b\n1,"x\ny"\n2,5" screen\n\n3,z\n', CsvDialect(), {1: 2, 2: 4, 3: 6}),
        # single quotes as the quote character, an apostrophe inside a word
        ("a;b\n1;don't\n\n2;'it''s\nok'\n3;z\n", CsvDialect(";", "'"), {1: 2, 2: 4, 3: 6}),
        # a comment after a value ends the line, quotes in it included
        ('a,b\n1,x # he said "hi\n\n2,y\n', CsvDialect(comment="#"), {1: 2, 2: 4}),
        # lines ending with a carriage return alone
        ("a,b\r1,x\r\r2,y\r", CsvDialect(newline="\r"), {1: 2, 2: 4}),
        # a quote that closes a field, then text: the field is closed
        ('a,b\n1,"x"y\n2,z\n', CsvDialect(), {1: 2, 2: 3}),
    ],
    ids=["mid-field-quote", "apostrophe", "inline-comment", "cr-only", "text-after-quote"],
)
def test_csv_dialect_cases(tmp_path: Path, text: str, dialect: CsvDialect, lines: dict[int, int]) -> None:
    path = tmp_path / "ev.csv"
    path.write_bytes(text.encode())
    assert record_lines(path, lines, dialect) == lines


def test_gzip_files_are_counted_decompressed(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "ev.csv.gz"
    path.write_bytes(gzip.compress(b'a,b\n\n\n1,"x\ny"\n\n2,z\n'))
    assert record_lines(path, [1, 2]) == {1: 4, 2: 7}
    jpath = tmp_path / "ev.jsonl.gz"
    jpath.write_bytes(gzip.compress(b'{"v": 1}\n\n{"v": 2}\n'))
    assert jsonl_record_lines(jpath, [1, 2]) == {1: 1, 2: 3}
    other = tmp_path / "ev.csv.zst"
    other.write_bytes(b"\x28\xb5\x2f\xfd")
    assert record_lines(other, [1]) == {}  # a compression it cannot read: no lines, no guess
