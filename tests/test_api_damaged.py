"""The Python API names a damaged Parquet file as the CLI does (HG206), never with the engine's own
error: validation from the footers' statistics reads no page, so the first query that decodes the
damaged page is an analysis's, inside ``hourglass.paths``/``funnel``/... (hourglass/__init__.py runs
each public analysis as a command's run, engine/snapshot.py ``watching``)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hourglass
from hourglass.interfaces import journeys_api


def _damaged(path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 6000
    events = rng.choice(["visit", "signup", "activate", "purchase"], n)
    ts = (1_704_067_200_000_000 + rng.integers(0, 10**11, n)).astype("datetime64[us]")
    table = pa.table(
        {
            "customer_id": pa.array(rng.integers(0, 300, n), pa.int64()),
            "event": pa.array(events, pa.string()),
            "timestamp": pa.array(ts),
        }
    )
    pq.write_table(table, path, row_group_size=2000, use_dictionary=False)
    data = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(1)  # the event column's pages
    at = chunk.data_page_offset + 40
    data[at : at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "call",
    [
        lambda p: hourglass.paths(p, "hourglass", level="stage"),
        lambda p: hourglass.transitions(p, "hourglass", level="event"),
        lambda p: hourglass.funnel(p, steps=["visit", "signup"]),
        lambda p: hourglass.lifecycle(p, "hourglass"),
    ],
    ids=["paths", "transitions", "funnel", "lifecycle"],
)
def test_a_damaged_page_met_by_an_analysis_is_hg206(tmp_path: Path, call: object) -> None:
    path = _damaged(tmp_path / "d.parquet")
    with pytest.raises(hourglass.HourglassError) as info:
        call(str(path))  # type: ignore[operator]
    assert info.value.code == "HG206"
    assert str(path) in str(info.value) or path.name in str(info.value)


def test_the_public_functions_keep_their_name_doc_and_signature() -> None:
    assert hourglass.paths.__name__ == "paths"
    assert hourglass.paths.__doc__ == journeys_api.paths.__doc__
    assert inspect.signature(hourglass.paths) == inspect.signature(journeys_api.paths)
    assert hourglass.Engine is hourglass.engine.Engine  # classes are not wrapped


def test_a_block_inside_another_names_the_damage_itself(tmp_path: Path) -> None:
    """A public function called inside a block (a command's, the caller's) runs in that block: the
    block names the damaged file and checks the sources when it ends (a function's own block inside
    it would take the sources out of the command's, whose handler then saw the engine's error)."""
    from hourglass.engine.snapshot import watching

    path = _damaged(tmp_path / "d.parquet")
    with watching():
        with pytest.raises(hourglass.HourglassError) as info, watching():
            hourglass.funnel(str(path), steps=["visit", "signup"])
        assert info.value.code == "HG206"
