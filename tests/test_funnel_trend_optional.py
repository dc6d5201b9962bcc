"""The funnel over time with an optional step (docs/semantics-funnel-time.md): each step's share is of
the previous *required* step and an optional step's ``dropped`` is null, as in the funnel. With
``--hold`` an optional step may count fewer customers than the next required step: the trend was an
internal error there (HG699, a Wilson interval of 1 out of 0)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import hourglass
from journeys import journeys

STEPS = ["visit", "signup?", "purchase"]
# kim's signup is on another device than her chain's: the held signup does not count for her, her
# purchase does; lou's chain is on his mobile throughout. The optional signup counts 1, purchase 2.
LOG = {
    "kim": [
        ("visit", "2024-01-01 10:00", {"device": "desktop"}),
        ("signup", "2024-01-01 10:05", {"device": "mobile"}),
        ("purchase", "2024-01-01 10:10", {"device": "desktop"}),
    ],
    "lou": [
        ("visit", "2024-01-02 10:00", {"device": "mobile"}),
        ("signup", "2024-01-02 10:05", {"device": "mobile"}),
        ("purchase", "2024-01-02 10:10", {"device": "mobile"}),
    ],
}


@pytest.fixture(scope="module")
def log() -> Any:
    return journeys(LOG, dtypes={"device": "str"})


def test_trend_steps_are_the_funnels(log: Any) -> None:
    funnel = hourglass.funnel(log, STEPS, window="1d", hold="device").rows()
    assert [r["customers"] for r in funnel] == [2, 1, 2]
    month = hourglass.funnel_trend(log, STEPS, window="1d", hold="device", period="month").to_dict()
    steps = month["periods"][0]["steps"]
    assert [(s["customers"], s["optional"], s["dropped"]) for s in steps] == [
        (2, False, 0),
        (1, True, None),
        (2, False, 0),
    ]
    keys = ("conversion_from_previous", "conversion_from_previous_low", "conversion_from_previous_high")
    for got, want in zip(steps, funnel, strict=True):
        assert [got[k] for k in keys] == [
            want[k] for k in keys
        ]  # purchase: 2 of visit's 2, not 2 of signup's 1


def test_trend_with_an_optional_step_in_the_cli_and_the_dashboard(log: Any, tmp_path: Path) -> None:
    from hourglass.interfaces.cli import cli
    from hourglass.interfaces.dashboard import create_app, load_source

    path = tmp_path / "log.parquet"
    log.to_parquet(path, index=False)
    args = ["funnel", str(path), "--steps", ",".join(STEPS), "--window", "1d", "--hold", "device"]
    out = CliRunner().invoke(cli, [*args, "--view", "trend", "--period", "month"])
    assert out.exit_code == 0 and "HG699" not in out.output, out.output
    with warnings.catch_warnings():  # starlette's notice about httpx, at import
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(create_app(load_source(str(path))), base_url="http://127.0.0.1") as client:
        q = "steps=visit,signup?,purchase&window=1d&hold=device&view=trend&period=month"
        r = client.get(f"/funnel/trend?{q}", headers={"X-HG-Fragment": "1"})
        assert r.status_code == 200 and "HG699" not in r.text, r.text[:500]
