"""Helpers of the fuzz suite (tests/test_fuzz_*.py, issue 19's standing guard).

The suite is bounded and seeded in ``make test`` (``derandomize``: the same examples every run, no
example database) and longer and random in ``make fuzz`` (``HOURGLASS_FUZZ=long``: 25 times the examples,
a fresh seed each run, printed by hypothesis when it finds something; ``HOURGLASS_FUZZ=N`` multiplies
by N)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

__all__ = ["SCALE", "fuzz_settings"]


def _scale() -> int:
    value = os.environ.get("HOURGLASS_FUZZ", "")
    if value == "long":
        return 25
    return int(value) if value.isdigit() and int(value) > 0 else 1


#: how many times the CI examples to run (1 in ``make test``)
SCALE = _scale()


def fuzz_settings(examples: int) -> settings:
    """``examples`` in CI (derandomized, no database); ``examples * SCALE`` random ones in ``make fuzz``."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
        # no shrinking: the note of each example says what was damaged, and shrinking a damaged file
        # took minutes
        phases=[Phase.explicit, Phase.generate],
    )
