"""Issue 19 items 4 and 9: durations in settings. A bare number for a duration in hourglass.toml (or a
YAML config) is an error with the hint ``7d`` (it meant 7 seconds); a duration past the allowed range
(1s to 365000d) is HG107 with the range for every duration flag and setting, never an int64 overflow or
HG699; and the longest allowed window runs on times at both ends of the range hourglass reads (1900-2200)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli import cli
from hourglass.model.errors import SpecError
from hourglass.model.lifecycle import AfterSaleSpec
from hourglass.model.spec import MAX_WINDOW, MAX_WINDOW_DAYS, US, FunnelSpec, parse_window
from hourglass.model.steps import Step

WINDOWS = ("repeat_within", "remorse_within", "offer_within", "gap_within")
ROWS = [
    ("a", "visit", "2024-01-01 10:00:00"),
    ("a", "signup", "2024-01-01 11:00:00"),
    ("a", "purchase", "2024-01-02 10:00:00"),
    ("a", "purchase", "2024-01-03 10:00:00"),
    ("b", "visit", "2024-01-02 10:00:00"),
]
#: times at both ends of the readable range: the longest window added to or taken from them must not
#: overflow anywhere (DuckDB int64 microseconds, Python datetimes)
FAR = [
    ("a", "visit", "1900-01-01 10:00:00", "ads"),
    ("a", "signup", "1900-01-02 10:00:00", "ads"),
    ("a", "purchase", "1950-01-03 10:00:00", "ads"),
    ("a", "purchase", "2199-01-05 10:00:00", "ads"),
    ("a", "return", "2199-01-06 10:00:00", "ads"),
    ("b", "visit", "2199-12-30 10:00:00", "seo"),
    ("b", "signup", "2199-12-31 10:00:00", "seo"),
    ("b", "purchase", "2199-12-31 11:00:00", "seo"),
]


def _csv(path: Path, rows: list[tuple[str, ...]], header: str = "customer_id,event,timestamp") -> Path:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _csv(tmp_path_factory.mktemp("settings") / "log.csv", ROWS)


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in r.output and "HG699" not in r.output, r.output
    return r.exit_code, r.output


# --- item 4: a bare number is no duration ---------------------------------------------------------------


@pytest.mark.parametrize("key", WINDOWS)
@pytest.mark.parametrize(("kind", "text"), [("toml", "{key} = 7\n"), ("yaml", "{key}: 7\n")])
def test_a_bare_number_in_the_config_is_an_error_with_the_unit(
    log: Path, tmp_path: Path, key: str, kind: str, text: str
) -> None:
    head = "[lifecycle]\n" if kind == "toml" else "lifecycle:\n  "
    config = tmp_path / f"hourglass.{kind}"
    config.write_text(head + text.format(key=key), encoding="utf-8")
    code, out = _run("lifecycle", str(log), "--config", str(config), "--no-referrals", "--no-channels")
    assert code == 2, out  # it was 7 seconds (a repeat rate of 0%), exit 0
    assert "HG107" in out or "HG113" in out
    assert key in out and "no unit" in out and "7d" in out
    assert config.name in out and "[lifecycle]" in out  # named when the config is read (ingest/config.py)


def test_a_bare_number_on_the_command_line_names_the_unit(log: Path) -> None:
    code, out = _run("lifecycle", str(log), "--set", "repeat_within=7")
    assert code == 2 and "HG107" in out
    assert "'7' has no unit" in out and "write 7d for 7 days" in out


@pytest.mark.parametrize("value", [7, 7.5, 0, -3, float("nan"), float("inf"), 10**30])
def test_the_python_api_refuses_a_bare_number_for_an_after_sale_window(value: float) -> None:
    with pytest.raises(SpecError) as e:
        AfterSaleSpec.build({"repeat_within": value})
    assert e.value.code == "HG107" and "no unit" in e.value.message
    assert e.value.hint is not None and "7d" in e.value.hint


def test_a_window_with_its_unit_still_works_in_the_config(log: Path, tmp_path: Path) -> None:
    config = tmp_path / "hourglass.toml"
    config.write_text('[lifecycle]\nrepeat_within = "1d"\n', encoding="utf-8")
    args = ("--config", str(config), "--format", "json", "--no-referrals", "--no-channels")
    code, out = _run("lifecycle", str(log), *args)
    assert code == 0, out
    purchases = json.loads(out)["after_sale"]["purchases"]
    assert purchases["repeat_within"] == "1d" and purchases["repeaters"] == 1


@pytest.mark.parametrize("value", [2.7, "2.5", True])
def test_nth_is_a_whole_number(value: object) -> None:
    with pytest.raises(SpecError) as e:
        AfterSaleSpec.build({"nth": value})
    assert e.value.code == "HG120"


# --- item 9: the allowed range ------------------------------------------------------------------------

TOO_LONG = ("106751991d", "200000000d", f"{MAX_WINDOW_DAYS + 1}d", "9" * 30 + "w", "9" * 5000 + "s")


@pytest.mark.parametrize("value", TOO_LONG)
def test_parse_window_refuses_past_the_range(value: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_window(value)
    assert e.value.code == "HG107" and f"{MAX_WINDOW_DAYS}d" in e.value.message


@pytest.mark.parametrize("seconds", [MAX_WINDOW / US + 1, 1e300, float("nan"), float("inf"), 1e-9])
def test_parse_window_refuses_numbers_out_of_range(seconds: float) -> None:
    with pytest.raises(SpecError) as e:
        parse_window(seconds)
    assert e.value.code == "HG107"


def test_the_range_is_checked_by_the_specs_too() -> None:
    assert parse_window(f"{MAX_WINDOW_DAYS}d") == MAX_WINDOW
    with pytest.raises(SpecError) as e:
        FunnelSpec(steps=FunnelSpec.build(["visit"]).steps, window=MAX_WINDOW + 1)
    assert e.value.code == "HG107"
    with pytest.raises(SpecError) as e:
        AfterSaleSpec(repeat_within=MAX_WINDOW + 1)
    assert e.value.code == "HG107" and "repeat_within" in e.value.message


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        (("funnel", "--steps", "visit,signup", "--window", "106751991d"), ("HG107",)),
        (
            ("funnel", "--steps", "visit,signup", "--window", "200000000d", "--mode", "strict_order"),
            ("HG107",),
        ),
        (("funnel", "--steps", "visit,signup", "--window", "200000000d", "--open"), ("HG107",)),
        *((("lifecycle", "--set", f"{k}=200000000d"), ("HG107",)) for k in WINDOWS),
        (("attribution", "--lookback", "200000000d"), ("HG107",)),
        (("attribution", "--half-life", "106751991d"), ("HG107",)),
        (("friction", "--within", "200000000d"), ("HG107", "HG165")),
        (("friction", "--target", "awareness=200000000d"), ("HG107", "HG165")),
        (("clv", "--horizon", "200000000d"), ("HG182",)),
        (("whatif", "--horizon", "100000"), ("HG172",)),
        (("whatif", "--horizon", "9" * 5000), ("HG172",)),
    ],
    ids=lambda v: " ".join(v)[:50] if isinstance(v, tuple) else None,
)
def test_every_duration_flag_past_the_range_is_a_coded_error(
    log: Path, args: tuple[str, ...], codes: tuple[str, ...]
) -> None:
    code, out = _run(args[0], str(log), *args[1:])  # was HG699 (int64 overflow) or a silent clip
    assert code == 2, out
    assert any(c in out for c in codes), out


def test_the_longest_window_runs_on_times_at_both_ends(tmp_path: Path) -> None:
    """No overflow at the cap: 1900 - 365000d and 2199 + 365000d stay inside every engine's range."""
    far = _csv(tmp_path / "far.csv", FAR, "customer_id,event,timestamp,channel")
    w = f"{MAX_WINDOW_DAYS}d"
    for mode in ("ordered", "strict_order", "any_order"):
        args = ("--steps", "visit,signup,purchase", "--window", w, "--mode", mode, "--format", "json")
        code, out = _run("funnel", str(far), *args)
        assert code == 0, out
        assert [s["customers"] for s in json.loads(out)["steps"]] == [2, 2, 2], mode
    settings = [a for k in WINDOWS for a in ("--set", f"{k}={w}")]
    code, out = _run("lifecycle", str(far), *settings, "--format", "json", "--no-referrals", "--no-channels")
    assert code == 0, out
    purchases = json.loads(out)["after_sale"]["purchases"]
    assert purchases["purchases"] == 3 and "observed" in purchases["repeat_rate_reason"]
    code, out = _run("attribution", str(far), "--lookback", w, "--half-life", w, "--format", "json")
    assert code == 0, out


# --- model files: what a stage may be (fuzz findings 5 and 6) ---------------------------------------------


@pytest.mark.parametrize("item", [7, True, 1.5, None, ["visit"]])
def test_a_stage_that_is_not_a_name_or_a_mapping_is_hg105(item: object) -> None:
    with pytest.raises(SpecError) as e:  # was a TypeError: HG699
        Step.of(item)  # type: ignore[arg-type]
    assert e.value.code == "HG105"


@pytest.mark.parametrize("events", [["vis\0it"], ["visit", "sign\nup"], ["a\x7f"]])
def test_an_event_name_with_a_control_character_is_hg104(events: list[str]) -> None:
    with pytest.raises(SpecError) as e:  # a NUL reached DuckDB's parser: HG699
        Step.of({"name": "look", "events": events})
    assert e.value.code == "HG104" and "control character" in e.value.message


@pytest.mark.parametrize("where", [None, 7, True, [None], [7], [1.5]])
def test_a_filter_that_is_not_text_is_hg103(where: object) -> None:
    with pytest.raises(SpecError) as e:  # was a TypeError (len() of None): HG699 (fuzz finding 9)
        Step.of({"name": "buy", "events": ["purchase"], "where": where})
    assert e.value.code == "HG103"
