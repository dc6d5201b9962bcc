"""Every analysis's spec rejects --since on or after --until with the same HG108 message and hint
(model/spec.py ``check_period``); the friction, diagnosis, what-if, attribution and retention specs
had four wordings of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hourglass.model.attribution import AttributionSpec
from hourglass.model.diagnose import DiagnoseSpec
from hourglass.model.errors import SpecError
from hourglass.model.friction import FrictionSpec
from hourglass.model.presets import preset
from hourglass.model.retention import RetentionSpec, Target
from hourglass.model.spec import parse_time
from hourglass.model.whatif_spec import WhatIfSpec

LATE, EARLY = "2024-02-01", "2024-01-01"
MODEL = preset("aida")

BUILDERS: dict[str, Callable[[str, str], Any]] = {
    "friction": lambda s, u: FrictionSpec.build(MODEL, since=s, until=u),
    "diagnose": lambda s, u: DiagnoseSpec.build(MODEL, since=s, until=u),
    "whatif": lambda s, u: WhatIfSpec.build(MODEL, since=s, until=u),
    "retention": lambda s, u: RetentionSpec.build(
        Target("any", "any event"), Target("any", "any event"), since=s, until=u
    ),
    "attribution": lambda s, u: AttributionSpec(
        since=parse_time(s, what="since"), until=parse_time(u, what="until")
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_since_after_until_is_hg108_worded_once(name: str) -> None:
    with pytest.raises(SpecError) as got:
        BUILDERS[name](LATE, EARLY)
    assert got.value.code == "HG108"
    assert got.value.message == "--since (2024-02-01 00:00:00) must be before --until (2024-01-01 00:00:00)"
    assert got.value.hint == "swap the two dates, or drop one of them"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_equal_dates_are_rejected_and_ordered_ones_accepted(name: str) -> None:
    with pytest.raises(SpecError):
        BUILDERS[name](EARLY, EARLY)
    BUILDERS[name](EARLY, LATE)
