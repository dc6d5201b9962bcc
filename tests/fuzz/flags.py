"""Random flag values for the commands that read a source: each command with a few of its own flags,
each flag with a value drawn from the odd ones (negative, zero, huge, NaN, empty, without a unit, not a
number, a long or control-character text) or a sound one."""

from __future__ import annotations

__all__ = ["COMMANDS", "LOG", "VALUES"]

#: a small log with every role (revenue, channel, referrer) that the commands below can read
LOG = (
    "customer_id,event,timestamp,revenue,channel,referrer\n"
    "c1,visit,2024-01-01 10:00:00,,ads,\n"
    "c1,signup,2024-01-02 10:00:00,,ads,\n"
    "c1,purchase,2024-01-03 10:00:00,5,ads,\n"
    "c1,purchase,2024-02-03 10:00:00,9,ads,\n"
    "c2,visit,2024-01-02 11:00:00,,email,c1\n"
    "c2,purchase,2024-02-03 12:00:00,7,email,c1\n"
    "c3,visit,2024-01-05 09:00:00,,search,\n"
    "c3,support_contact,2024-01-06 09:00:00,,search,\n"
)

VALUES = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "3",
    "7d",
    "30m",
    "-7d",
    "0d",
    "7",
    "7x",
    "1e309",
    "nan",
    "inf",
    "9" * 30,
    "106751991d",
    "200000000d",
    "2024-01-01",
    "2024-13-45",
    "20240101",
    "1..2",
    "visit",
    "purchase",
    "sale",
    "channel",
    "no_such",
    "a,b,,c",
    "x" * 3000,
    "é\u202e\t",
    "--steps",
]

#: command words and the flags whose values are drawn (the rest of each command line is sound)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "funnel": (
        ("funnel", "--steps", "visit,signup,purchase"),
        ("--window", "--mode", "--since", "--until", "--exclude", "--by"),
    ),
    "funnel-model": (("funnel", "--model", "funnel4"), ("--steps", "--window", "--mode")),
    "lifecycle": (("lifecycle",), ("--goal", "--as-of", "--set", "--top", "--max-depth", "--period", "--by")),
    "paths": (("paths",), ("--depth", "--top", "--from", "--to", "--level")),
    "transitions": (("transitions",), ("--level", "--by", "--since")),
    "journeys": (("journeys",), ("--deviations", "--goal", "--by")),
    "journey": (("journey",), ("--customer", "--sample", "--clusters", "--limit")),
    "followers": (("followers",), ("--goal", "--as-of")),
    "retention": (("retention",), ("--period", "--periods", "--mode", "--cohorts", "--start", "--return")),
    "flywheel": (("flywheel",), ("--period", "--activity", "--new", "--activity-events")),
    "attribution": (
        ("attribution",),
        ("--conversion", "--lookback", "--half-life", "--position", "--markov-order"),
    ),
    "friction": (("friction",), ("--friction", "--target", "--within", "--period", "--strata")),
    "models suggest": (("models", "suggest"), ("--top", "--name")),
    "validate": (("validate",), ("--customer-col", "--time-unit", "--format")),
}  # fmt: skip
