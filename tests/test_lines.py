"""Error messages cite physical lines: ``ingest/lines.py`` maps record numbers to the lines they start
on. Random CSV and JSON-lines files (quoted line breaks, doubled quotes, delimiters in values, empty
lines, CRLF) are written with each record's start line recorded; the mapping must give those lines,
and DuckDB must read the same records in the same order (so the numbering is the reader's)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hourglass.ingest.lines import CsvDialect, jsonl_record_lines, ragged_csv_lines, record_lines

VALUE = st.text(alphabet="ab ,;\"'\n#", min_size=1, max_size=6)
RECORD = st.tuples(VALUE, VALUE, VALUE)


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(RECORD, min_size=1, max_size=12),
    empties=st.lists(st.integers(0, 2), min_size=13, max_size=13),
    crlf=st.booleans(),
)
def test_csv_record_lines_are_where_the_records_start(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[str, str, str]],
    empties: list[int],
    crlf: bool,
) -> None:
    end = "\r\n" if crlf else "\n"
    out, starts, line = io.StringIO(), [], 1
    header = "x,y,z" + end
    out.write(header)
    line += 1
    for rec, gap in zip(records, empties, strict=False):
        out.write(end * gap)  # empty lines between records
        line += gap
        buf = io.StringIO()
        # every field quoted: a value of blanks or of one '#' is then not an empty or comment line
        csv.writer(buf, lineterminator=end, quoting=csv.QUOTE_ALL).writerow(rec)
        starts.append(line)
        text = buf.getvalue()
        line += text.count("\n")
        out.write(text)
    path = tmp_path_factory.mktemp("csv") / "ev.csv"
    path.write_bytes(out.getvalue().encode())
    got = record_lines(path, range(1, len(records) + 1), CsvDialect(quote='"', escape='"'))
    assert got == dict(enumerate(starts, start=1))
    rows = duckdb.sql(
        f"SELECT * FROM read_csv('{path}', delim=',', quote='\"', escape='\"', header=true, all_varchar=true)"
    ).fetchall()
    norm = [tuple(v.replace("\r\n", "\n") for v in r) for r in records]
    assert [tuple((v or "").replace("\r\n", "\n") for v in r) for r in rows] == norm


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
    path.write_text('\na,b,c\n1,2,3\n\n  \n1,"2,3",4\n1,2\n5,6,7,8\n9,9,9\n0\n')
    header, bad = ragged_csv_lines(path, ",", limit=3)
    assert header == 3
    assert bad == [(5, 1, "  "), (7, 2, "1,2"), (8, 4, "5,6,7,8")]
