"""The CLV report part (interfaces/reports/_clv.py): parameters, the hold-out chart and CLV by
channel vs CAC; blocks the data cannot give are grey 'not measured' lines with their reason."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hourglass.interfaces.reports._clv import CLV_DIV_IDS, clv_part

RESULT: dict[str, Any] = {
    "model": "bgnbd",
    "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "std_errors": {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705},
    "loglik": -9582.43,
    "spec": {"fit": "bgnbd", "horizon_days": 364, "discount_rate": 0.1},
    "calibration": {
        "first_day": "1997-01-01",
        "calibration_end": "1997-09-30",
        "holdout_periods": 39.0,
        "period": "week",
    },
    "spend_model": {
        "params": {"p": 6.25, "q": 3.74, "gamma": 15.44},
        "std_errors": {"p": 1.19, "q": 0.29, "gamma": 4.16},
        "loglik": -4055.9,
    },
    "totals": {"customers": 2357, "repeat_customers": 946, "mean_p_alive": 0.81, "mean_clv": 30.73},
    "holdout": [{"repeat_purchases": "0", "customers": 1411, "actual": 0.237, "expected": 0.225}],
    "channels": [
        {"channel": "<ads>", "customers": 1000, "mean_clv": 30.0, "cac": 10.0, "clv_to_cac": 3.0},
        {
            "channel": "email",
            "customers": 5,
            "mean_clv": 20.0,
            "cac": None,
            "cac_reason": "give --spend FILE",
        },
    ],
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    p.close()
    return p


def test_the_part_shows_parameters_holdout_and_channels() -> None:
    part = clv_part(RESULT)
    page = _parse(part.html)
    text = " ".join(page.text)
    assert part.anchor == "clv" and part.toc_value == "30.73"
    for want in (
        "BG/NBD",
        "0.243",
        "4.414",
        "-9582.43",
        "Gamma-Gamma",
        "15.440",
        "<ads>",
        "3.00",
        "give --spend FILE",
    ):
        assert want in text, want
    assert [c for c, _ in part.charts] == [CLV_DIV_IDS["holdout"], CLV_DIV_IDS["channels"]]
    assert set(CLV_DIV_IDS.values()) <= set(page.ids)
    holdout = part.charts[0][1]
    assert [t.name for t in holdout.data] == ["actual", "expected (model)"]
    assert list(holdout.data[0].y) == [0.237]


def test_not_measured_blocks_say_why() -> None:
    bare = {
        **RESULT,
        "spend_model": None,
        "spend_model_reason": "map it with --revenue-col COLUMN",
        "totals": {
            "customers": 10,
            "repeat_customers": 3,
            "mean_p_alive": 0.5,
            "mean_clv": None,
            "mean_clv_reason": "no revenue",
        },
        "holdout": None,
        "holdout_reason": "give --calibration-end DATE",
        "channels": None,
        "channels_reason": "map it with --channel-col COLUMN",
    }
    part = clv_part(bare)
    text = " ".join(_parse(part.html).text)
    assert text.count("not measured") >= 4
    for want in ("--revenue-col", "--calibration-end", "--channel-col", "no revenue"):
        assert want in text
    assert part.charts == () and part.toc_value == ""
