"""``hourglass transitions`` on a log of many event names: the table lists the first
``SHOWN_EDGES`` edges of each graph (the documented order) and says how many more there are; JSON
and CSV keep every edge, unchanged."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from hourglass.interfaces.cli import paths as cli_paths
from test_cli import flat, ok


def _log(tmp_path: Path, customers: int) -> Path:
    """Each customer walks the 40 event names in his own order, a minute apart."""
    rng = random.Random(customers)
    lines = ["customer_id,event,timestamp"]
    for c in range(customers):
        names = [f"e{k:02d}" for k in range(40)]
        rng.shuffle(names)
        lines += [f"c{c},{n},2024-01-01 00:{k:02d}:00" for k, n in enumerate(names)]
    path = tmp_path / f"wide{customers}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def many_names(tmp_path: Path) -> Path:
    return _log(tmp_path, 6)  # about 240 edges


def test_the_table_lists_the_first_edges(many_names: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = json.loads(ok("transitions", many_names, "--level", "event", "--format", "json").stdout)
    edges = whole["edges"]
    assert len(edges) > 100
    text = ok("transitions", many_names, "--level", "event").stdout
    assert f"{len(edges) - 100:,} more edges (--format csv or --format json lists every edge)" in flat(text)
    monkeypatch.setattr(cli_paths, "SHOWN_EDGES", 3)
    text = ok("transitions", many_names, "--level", "event").stdout
    assert f"{len(edges) - 3:,} more edges" in flat(text)
    body = [line.split("│")[1:3] for line in text.splitlines() if line.startswith("│")]
    assert [[a.strip(), b.strip()] for a, b in body] == [[e["from"], e["to"] or "(end)"] for e in edges[:3]]
    rows = list(
        csv.DictReader(
            io.StringIO(ok("transitions", many_names, "--level", "event", "--format", "csv").stdout)
        )
    )
    assert len(rows) == len(edges) and [r["from"] for r in rows] == [e["from"] for e in edges]


def test_few_edges_no_caption(tmp_path: Path) -> None:
    text = ok("transitions", _log(tmp_path, 1), "--level", "event").stdout  # 40 edges
    assert "more edges" not in text and "e39" in text
