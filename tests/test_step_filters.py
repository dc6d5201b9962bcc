"""A stage filter whose value cannot be compared with its column's type is HG103 naming the filter,
the column and its type (fuzz finding 7: it was HG699 from Ibis, or HG407 from DuckDB's cast)."""

from __future__ import annotations

from typing import Any

import pytest

import hourglass
from hourglass.model.errors import SpecError
from journeys import journeys

LOG = journeys(
    {
        "ann": [
            ("visit", "2024-01-01 10:00", {"channel": "ads"}),
            ("purchase", "2024-01-02", {"revenue": 30.0}),
        ],
        "ben": [("visit", "2024-01-01 10:00"), ("purchase", "2024-01-03", {"revenue": 80.0})],
    }
)


@pytest.mark.parametrize(
    ("where", "kind", "values"),
    [
        ("revenue > abc", "numbers", "'abc'"),
        ("revenue in [a, b]", "numbers", "'a', 'b'"),
        ("channel > 5", "text", "5"),
    ],
)
def test_a_filter_of_the_wrong_type(where: str, kind: str, values: str) -> None:
    steps: list[Any] = ["visit", {"name": "buy", "events": ["purchase"], "where": [where]}]
    with pytest.raises(SpecError) as e:
        hourglass.funnel(LOG, steps)
    assert e.value.code == "HG103"
    assert f"'{where}'" in e.value.message and f"({kind}) with {values}" in e.value.message
    assert f"compare it with {kind}" in str(e.value.hint)


def test_filters_of_the_right_type_still_work() -> None:
    steps: list[Any] = ["visit", {"name": "buy", "events": ["purchase"], "where": ["revenue in [30, 2.5]"]}]
    assert [r["customers"] for r in hourglass.funnel(LOG, steps).rows()] == [2, 1]
    steps = [{"name": "v", "events": ["visit"], "where": ["channel == ads"]}, "purchase"]
    assert [r["customers"] for r in hourglass.funnel(LOG, steps).rows()] == [1, 1]
