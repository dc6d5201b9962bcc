"""The pure model layer: specs, windows, filters, steps, journey models, presets, errors, statistics.

No data and no engine here (except the demo simulator, to check the presets' event names)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from statistics import NormalDist

import pyarrow.compute as pc
import pytest

import hourglass
from hourglass.model import (
    KINDS,
    PRESETS,
    ColumnMapping,
    ConfigError,
    DataError,
    Filter,
    FunnelSpec,
    HourglassError,
    JourneyModel,
    SchemaError,
    SourceError,
    SpecError,
    Step,
    UnsupportedError,
    parse_filter,
    parse_time,
    parse_window,
    preset,
    preset_names,
)
from hourglass.model.stats import Z95, ratio, wilson

US = 1_000_000
DAY_US = 86_400 * US


# --- FunnelSpec --------------------------------------------------------------------------------------


def test_spec_build_defaults() -> None:
    spec = FunnelSpec.build(["visit", "signup"])
    assert spec.step_names == ("visit", "signup")
    assert spec.window == 7 * DAY_US == 604_800_000_000
    assert spec.mode == "ordered"
    assert not spec.open
    assert spec.since is None and spec.until is None
    assert spec.exclude == ()
    assert spec.by is None


def test_spec_build_parses_options() -> None:
    spec = FunnelSpec.build(
        ["visit", "purchase"],
        window="12h",
        since="2024-01-01T03:00:00+03:00",
        until="2024-02-01",
        exclude="refund",
        by="channel",
        mode=None,  # None means the default
    )
    assert spec.window == 12 * 3600 * US
    assert spec.since == datetime(2024, 1, 1, 0, 0)
    assert spec.until == datetime(2024, 2, 1)
    assert spec.exclude == ("refund",)
    assert spec.by == "channel"
    assert spec.mode == "ordered"
    assert spec.describe()["window"] == "12h"


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("windw", "window"), ("mdoe", "mode"), ("exclud", "exclude"), ("until_", "until")],
)
def test_spec_build_rejects_unknown_keys_with_suggestion(key: str, suggestion: str) -> None:
    with pytest.raises(SpecError) as info:
        FunnelSpec.build(["visit"], **{key: "x"})
    err = info.value
    assert err.code == "HG101"
    assert f"unknown key '{key}'" in err.message
    assert f"did you mean '{suggestion}'?" in err.message
    assert err.hint is not None and "window" in err.hint


def test_spec_build_unknown_key_without_close_match_has_no_suggestion() -> None:
    with pytest.raises(SpecError, match="unknown key 'zzzzzz'") as info:
        FunnelSpec.build(["visit"], zzzzzz=1)
    assert "did you mean" not in info.value.message


def test_spec_unknown_mode_suggests() -> None:
    with pytest.raises(SpecError) as info:
        FunnelSpec.build(["visit"], mode="ordred")
    assert info.value.code == "HG109"
    assert "did you mean 'ordered'?" in info.value.message


@pytest.mark.parametrize(
    ("options", "code", "text"),
    [
        ({"open": True, "mode": "any_order"}, "HG109", "--open works with the ordered mode only"),
        ({"open": True, "by": "channel"}, "HG109", "--open cannot be combined with --by"),
        ({"since": "2024-02-01", "until": "2024-01-01"}, "HG108", "must be before"),
        ({"since": "2024-01-01", "until": "2024-01-01"}, "HG108", "must be before"),
        ({"exclude": ["visit"]}, "HG109", "excluded event 'visit' is also an event of step 'visit'"),
        ({"since": "yesterday"}, "HG108", "cannot read 'yesterday'"),
    ],
)
def test_spec_invalid_combinations(options: dict[str, object], code: str, text: str) -> None:
    with pytest.raises(SpecError) as info:
        FunnelSpec.build(["visit", "purchase"], **options)
    assert info.value.code == code
    assert text in info.value.message


def test_spec_step_count_limits() -> None:
    with pytest.raises(SpecError, match="at least one step"):
        FunnelSpec.build([])
    FunnelSpec.build([f"e{i}" for i in range(30)])
    with pytest.raises(SpecError, match="at most 30 steps"):
        FunnelSpec.build([f"e{i}" for i in range(31)])


def test_spec_accepts_repeated_steps() -> None:
    # docs: one event may match several steps, e.g. --steps visit,purchase,purchase
    spec = FunnelSpec.build(["visit", "purchase", "purchase"])
    assert spec.step_names == ("visit", "purchase", "purchase")


# --- windows and times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        ("7d", 604_800_000_000),
        ("30s", 30 * US),
        ("90m", 90 * 60 * US),
        ("12h", 12 * 3600 * US),
        ("2w", 14 * DAY_US),
        (" 3 d ", 3 * DAY_US),
        (30, 30 * US),
        (1.5, 1_500_000),
        (0.000001, 1),
    ],
)
def test_parse_window(value: str | float, micros: int) -> None:
    assert parse_window(value) == micros


@pytest.mark.parametrize("value", ["7x", "", "d", "7", "0d", "-1d", "1.5h", "7 days", 0, -3, True, "seven d"])
def test_parse_window_rejects(value: object) -> None:
    with pytest.raises(SpecError) as info:
        parse_window(value)  # type: ignore[arg-type]
    assert info.value.code == "HG107"


def test_parse_window_hint_shows_the_syntax() -> None:
    with pytest.raises(SpecError) as info:
        parse_window("7x")
    assert "'7x'" in info.value.message
    assert info.value.hint is not None and "7d" in info.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", datetime(2024, 1, 31)),
        ("2024-01-31T10:00:00+03:00", datetime(2024, 1, 31, 7)),
        ("2024-01-31T10:00:00Z", datetime(2024, 1, 31, 10)),
        ("2024-01-31 10:00:00", datetime(2024, 1, 31, 10)),
        (None, None),
        ("", None),
    ],
)
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text, what="--since") == expected


def test_parse_time_rejects() -> None:
    with pytest.raises(SpecError) as info:
        parse_time("31/01/2024", what="--until")
    assert info.value.code == "HG108"
    assert info.value.message.startswith("--until:")


# --- filters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "op", "value"),
    [
        ("revenue > 0", "revenue", ">", 0),
        ("revenue>=19.99", "revenue", ">=", 19.99),
        ("revenue <= 5", "revenue", "<=", 5),
        ("revenue < -1", "revenue", "<", -1),
        ("channel in [ads, search]", "channel", "in", ("ads", "search")),
        ("channel in [ads]", "channel", "in", ("ads",)),
        ("channel not in [ads, 'social media']", "channel", "not_in", ("ads", "social media")),
        ("country != 'US'", "country", "!=", "US"),
        ('country == "DE"', "country", "==", "DE"),
        ("country = DE", "country", "==", "DE"),
        ("plan == pro", "plan", "==", "pro"),
        ("code == '007'", "code", "==", "007"),
        ("flag == true", "flag", "==", True),
        ("n in [1, 2, 3]", "n", "in", (1, 2, 3)),
        ("  _x2   ==   1  ", "_x2", "==", 1),
    ],
)
def test_parse_filter(text: str, column: str, op: str, value: object) -> None:
    f = parse_filter(text)
    assert (f.column, f.op, f.value) == (column, op, value)
    assert type(f.value) is type(value)


def test_parse_filter_from_triple_and_filter() -> None:
    assert parse_filter(("revenue", ">", 0)) == Filter("revenue", ">", 0)
    assert parse_filter(["channel", "in", ["ads", "search"]]) == Filter("channel", "in", ("ads", "search"))
    f = Filter("x", "==", 1)
    assert parse_filter(f) is f


@pytest.mark.parametrize(
    "bad",
    [
        "revenue",
        "revenue >",
        "> 0",
        "revenue ~ 3",
        "1abc > 0",
        "channel in ads",
        "channel in [ads, search",
        "channel not in ads",
        "",
        ("revenue", ">"),
        ("revenue", "like", "x"),
        ("channel", "in", "ads"),
        b"revenue > 0",
    ],
)
def test_parse_filter_rejects(bad: object) -> None:
    with pytest.raises(SpecError) as info:
        parse_filter(bad)  # type: ignore[arg-type]
    assert info.value.code == "HG103"


def test_parse_filter_hint() -> None:
    with pytest.raises(SpecError) as info:
        parse_filter("revenue")
    assert "revenue" in info.value.message
    assert info.value.hint is not None and "revenue > 0" in info.value.hint


def test_filter_str_round_trips() -> None:
    for text in ("revenue > 0", "channel in [ads, search]", "channel not in [ads]", "country != US"):
        assert str(parse_filter(text)) == text
        assert parse_filter(str(parse_filter(text))) == parse_filter(text)


def test_filter_str_round_trips_quoted_strings() -> None:
    for text in ("code == '007'", "flag == 'true'"):
        f = parse_filter(text)
        assert parse_filter(str(f)) == f


# --- steps -------------------------------------------------------------------------------------------


def test_step_of_name() -> None:
    s = Step.of("visit")
    assert s == Step("visit", ("visit",))
    assert s.display == "visit"
    assert s.to_dict() == {"name": "visit", "events": ["visit"]}


def test_step_of_dict() -> None:
    s = Step.of(
        {"name": "buy", "label": "Purchase", "events": "purchase", "where": "revenue > 0"},
    )
    assert s.events == ("purchase",)
    assert s.where == (Filter("revenue", ">", 0),)
    assert s.display == "Purchase"
    assert Step.of(s.to_dict()) == s
    assert Step.of(s) is s
    # events default to the name
    assert Step.of({"name": "visit"}).events == ("visit",)


@pytest.mark.parametrize("pattern", ["page_*", "sign?p", "*", "checkout_*_done", "a.b", "a+b"])
def test_step_accepts_glob_patterns(pattern: str) -> None:
    assert Step("s", (pattern,)).events == (pattern,)


@pytest.mark.parametrize("pattern", ["page_[ab]", "x]", ""])
def test_step_rejects_bad_patterns(pattern: str) -> None:
    with pytest.raises(SpecError) as info:
        Step("s", (pattern,))
    assert info.value.code == "HG104"


@pytest.mark.parametrize("name", ["", "two words", "a,b", "tab\there"])
def test_step_rejects_bad_names(name: str) -> None:
    with pytest.raises(SpecError, match="invalid step name") as info:
        Step(name, ("visit",))
    assert info.value.code == "HG104"


def test_step_rejects_no_events_and_missing_name() -> None:
    with pytest.raises(SpecError, match="has no events") as info:
        Step("s", ())
    assert info.value.code == "HG104"
    with pytest.raises(SpecError, match="needs a 'name'"):
        Step.of({"events": ["visit"]})


def test_step_unknown_key_suggests() -> None:
    with pytest.raises(SpecError) as info:
        Step.of({"name": "s", "evnts": ["visit"]})
    assert info.value.code == "HG101"
    assert "did you mean 'events'?" in info.value.message


# --- journey models ----------------------------------------------------------------------------------


def _model(**over: object) -> dict[str, object]:
    data: dict[str, object] = {"name": "m", "kind": "funnel", "stages": ["visit", "signup"]}
    data.update(over)
    return data


def test_model_from_dict() -> None:
    m = JourneyModel.from_dict(
        _model(stages=["visit", {"name": "buy", "events": ["purchase"], "where": ["revenue > 0"]}]),
        source="m.yaml",
    )
    assert [s.name for s in m.stages] == ["visit", "buy"]
    assert m.stage("buy").where == (Filter("revenue", ">", 0),)
    assert m.kind == "funnel"


def test_model_kind_defaults_to_funnel() -> None:
    data = _model()
    del data["kind"]
    assert JourneyModel.from_dict(data).kind == "funnel"


def test_model_duplicate_stage_names() -> None:
    with pytest.raises(SpecError) as info:
        JourneyModel.from_dict(_model(stages=["visit", "signup", {"name": "visit", "events": ["ad_click"]}]))
    assert info.value.code == "HG105"
    assert "stage names repeat: visit" in info.value.message


def test_model_unknown_kind_suggests() -> None:
    with pytest.raises(SpecError) as info:
        JourneyModel.from_dict(_model(kind="hourglas"))
    assert info.value.code == "HG105"
    assert "unknown kind 'hourglas'" in info.value.message
    assert "did you mean 'hourglass'?" in info.value.message
    assert info.value.hint is not None
    for kind in KINDS:
        assert kind in info.value.hint


@pytest.mark.parametrize(
    ("data", "code", "text"),
    [
        ({"kind": "funnel", "stages": ["a"]}, "HG105", "missing 'name'"),
        ({"name": "m"}, "HG105", "missing 'stages'"),
        ({"name": "m", "stages": "a"}, "HG105", "'stages' must be a list"),
        ({"name": "m", "stages": []}, "HG105", "has no stages"),
        ({"name": "m", "stages": ["a"], "stgaes": []}, "HG101", "did you mean 'stages'?"),
        ({"name": "m", "stages": ["a"], "lable": "x"}, "HG101", "did you mean 'label'?"),
    ],
)
def test_model_invalid(data: dict[str, object], code: str, text: str) -> None:
    with pytest.raises(SpecError) as info:
        JourneyModel.from_dict(data, source="m.yaml")
    assert info.value.code == code
    assert text in info.value.message


def test_model_unknown_stage_suggests() -> None:
    m = JourneyModel.from_dict(_model())
    with pytest.raises(SpecError) as info:
        m.stage("sigup")
    assert info.value.code == "HG106"
    assert "did you mean 'signup'?" in info.value.message
    assert info.value.hint == "its stages: visit, signup"


# --- presets -----------------------------------------------------------------------------------------

PRESET_NAMES = ["funnel4", "aida", "hourglass", "flip_the_funnel", "flywheel", "solis6"]


def test_presets_are_the_six() -> None:
    assert preset_names() == PRESET_NAMES
    assert list(PRESETS) == PRESET_NAMES


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_valid_and_round_trips(name: str) -> None:
    m = preset(name)
    assert m.name == name
    assert m.kind in KINDS
    assert m.label and m.description
    assert len(m.stages) >= 3
    assert all(s.label for s in m.stages)
    again = JourneyModel.from_dict(m.to_dict())
    assert (again.name, again.kind, again.label, again.description, again.stages) == (
        m.name,
        m.kind,
        m.label,
        m.description,
        m.stages,
    )
    FunnelSpec.build(list(m.stages))  # usable as a funnel


@pytest.fixture(scope="module")
def simulated_event_names() -> set[str]:
    from hourglass.ingest.simulator import simulate_shop

    table, _ = simulate_shop(2_000, seed=11)
    return set(pc.unique(table["event"]).to_pylist())


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_events_exist_in_the_demo_shop(name: str, simulated_event_names: set[str]) -> None:
    missing = {e for s in preset(name).stages for e in s.events if e not in simulated_event_names}
    assert not missing, f"{name}: events the simulator never generates: {sorted(missing)}"


def test_unknown_preset_suggests() -> None:
    with pytest.raises(SpecError) as info:
        preset("hourglas")
    assert info.value.code == "HG106"
    assert "did you mean 'hourglass'?" in info.value.message
    assert info.value.hint is not None and "funnel4" in info.value.hint


# --- column mapping ----------------------------------------------------------------------------------


def test_column_mapping() -> None:
    m = ColumnMapping.from_dict({"customer": "uid", "time_unit": "ms"})
    assert m.explicit() == {"customer": "uid"}
    assert m.time_unit == "ms"
    merged = m.merged(ColumnMapping(event="action"))
    assert (merged.customer, merged.event, merged.time_unit) == ("uid", "action", "ms")
    assert m.merged(ColumnMapping(customer="other", time_unit="us")).customer == "other"


def test_column_mapping_errors() -> None:
    with pytest.raises(SpecError) as info:
        ColumnMapping.from_dict({"custmer": "uid"})
    assert info.value.code == "HG101"
    assert "did you mean 'customer'?" in info.value.message
    with pytest.raises(SpecError) as info:
        ColumnMapping(time_unit="ns")
    assert info.value.code == "HG102"


# --- errors ------------------------------------------------------------------------------------------

ERRORS = [
    (SpecError, ValueError, "HG100"),
    (ConfigError, ValueError, "HG110"),
    (SourceError, FileNotFoundError, "HG200"),
    (SchemaError, KeyError, "HG300"),
    (DataError, ValueError, "HG400"),
    (UnsupportedError, NotImplementedError, "HG500"),
]


@pytest.mark.parametrize(("cls", "builtin", "code"), ERRORS)
def test_error_classes(cls: type[HourglassError], builtin: type[Exception], code: str) -> None:
    assert issubclass(cls, HourglassError)
    assert issubclass(cls, builtin)
    assert cls.code == code
    assert re.fullmatch(r"HG\d{3}", cls.code)
    err = cls("something is wrong", hint="do this")
    assert err.code == code
    assert str(err) == f"[{code}] something is wrong\n  hint: do this"
    with pytest.raises(builtin):
        raise cls("x")
    custom = cls("other", code="HG999")
    assert custom.code == "HG999" and str(custom) == "[HG999] other"
    assert cls.code == code  # the class default is untouched


def test_error_codes_are_distinct() -> None:
    assert len({code for _, _, code in ERRORS}) == len(ERRORS)


def test_schema_error_str_is_not_quoted() -> None:
    # KeyError.__str__ would repr() the message
    assert str(SchemaError("no column 'x'")) == "[HG300] no column 'x'"


# --- statistics --------------------------------------------------------------------------------------


def test_z95() -> None:
    assert NormalDist().inv_cdf(0.975) == pytest.approx(Z95, abs=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # reference values (Newcombe 1998; Brown, Cai & DasGupta 2001)
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (1, 1, 0.2065, 1.0),
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
    ],
)
def test_wilson_reference_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_formula_and_properties() -> None:
    z = Z95
    for k, n in [(1, 4), (2, 4), (3, 7), (99, 100), (1, 1000)]:
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = wilson(k, n)
        assert lo == pytest.approx(max(0.0, centre - half), rel=1e-12)
        assert hi == pytest.approx(min(1.0, centre + half), rel=1e-12)
        assert lo is not None and hi is not None
        assert 0.0 <= lo <= p <= hi <= 1.0
        # symmetry: the interval of failures mirrors the interval of successes
        lo2, hi2 = wilson(n - k, n)
        assert lo == pytest.approx(1 - hi2) and hi == pytest.approx(1 - lo2)  # type: ignore[operator]
    assert wilson(0, 0) == (None, None)
    assert wilson(1, 4, z=0.0) == (0.25, 0.25)


def test_ratio() -> None:
    assert ratio(1, 4) == 0.25
    assert ratio(0, 0) is None
    assert ratio(0, 3) == 0.0


def test_model_sale_stage_and_purchase_events() -> None:
    m = JourneyModel.from_dict(
        {
            "name": "m",
            "stages": [{"name": "a", "events": ["x"]}, {"name": "b", "events": ["buy"]}],
            "sale": "b",
        }
    )
    assert m.sale_index == 1
    assert m.purchase_events == ("buy",)
    assert JourneyModel.from_dict(m.to_dict()) == m
    with pytest.raises(SpecError, match=r"sale stage 'bb'.*did you mean 'b'"):
        JourneyModel.from_dict({"name": "m", "stages": [{"name": "b", "events": ["buy"]}], "sale": "bb"})
    assert hourglass.preset("hourglass").sale == "sale"
    assert hourglass.preset("hourglass").purchase_events == ("purchase", "repeat_purchase")
    assert hourglass.preset("flywheel").sale is None


def test_yaml_booleans_and_nulls_are_not_event_names() -> None:
    import yaml

    from hourglass.model.errors import SpecError
    from hourglass.model.steps import Step

    item = yaml.safe_load("name: b\nevents: [visit, yes, on]")
    with pytest.raises(SpecError, match=r"step 'b': the event True is not a name") as e:
        Step.of(item)
    assert e.value.code == "HG104" and "quote event names" in (e.value.hint or "")
    assert Step.of(yaml.safe_load("name: b\nevents: [visit, 'yes']")).events == ("visit", "yes")
