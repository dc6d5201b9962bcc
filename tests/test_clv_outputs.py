"""The per-customer files of ``clv --customers`` and ``friction --customers`` are written whole or
not at all (issue 19 item 8): a write that fails (a full disk) is HG425 naming the file, and a file
that was there is left as it was, never half written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hourglass
from hourglass.interfaces import clv_api, friction_api
from hourglass.model.errors import HourglassError


def _full_disk(*_a: Any, **_k: Any) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("name", ["customers.csv", "customers.parquet"])
def test_a_failed_clv_customers_write_leaves_the_old_file(
    demo_parquet: Path, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_text("old")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("csv.DictWriter.writerows", _full_disk)
        mp.setattr("pyarrow.parquet.write_table", _full_disk)
        with pytest.raises(HourglassError) as e:
            clv_api.clv(str(demo_parquet), model="hourglass", customers=path)
    assert e.value.code == "HG425" and name in e.value.message
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [name]


def test_a_failed_friction_customers_write_leaves_the_old_file(demo_parquet: Path, tmp_path: Path) -> None:
    path = tmp_path / "stalled.csv"
    path.write_text("old")
    ev = hourglass.events(str(demo_parquet))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pyarrow.csv.write_csv", _full_disk)
        with pytest.raises(HourglassError) as e:
            friction_api.friction(ev, "hourglass", customers=path)
    assert e.value.code == "HG425" and "stalled.csv" in e.value.message
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["stalled.csv"]
