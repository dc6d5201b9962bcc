"""Random journey-model files (YAML or TOML) and hourglass.toml config files: a valid one with one to
three random changes (a key dropped or renamed, a value of another type, a huge or odd text, a number
for a duration, an alias, broken syntax, random bytes)."""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

__all__ = ["config_text", "model_text"]

MODEL: dict[str, Any] = {
    "name": "shop",
    "label": "Shop",
    "kind": "funnel",
    "description": "a small shop",
    "stages": [
        {"name": "look", "label": "Look", "events": ["visit"]},
        {"name": "join", "label": "Join", "events": ["signup", "sign*"]},
        {"name": "buy", "label": "Buy", "events": ["purchase"], "where": ["revenue > 0"]},
    ],
    "sale": "buy",
}

ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    7,
    1.5,
    float("nan"),
    True,
    "",
    " ",
    "7",
    "7d",
    "-7d",
    "200000000d",
    "x" * 5_000,
    "é\u202e\u0000",
    "[",
    "*",
    "?",
    "revenue >",
    "channel in [ads",
    "visit,signup",
    [],
    [None],
    [1, 2],
    [[]],
    {},
    {"a": 1},
    "look",
    "buy",
    "hourglass",
    2**70,
]

LIFECYCLE_KEYS = [
    "repeat_within",
    "remorse_events",
    "remorse_within",
    "support_events",
    "nth",
    "gap_within",
    "offer_within",
    "loyalty_events",
    "unknown_key",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _change(data: Any, rnd: random.Random) -> str:
    path = rnd.choice(_paths(data))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    kind = rnd.randrange(4)
    if kind == 0 and isinstance(parent, dict):
        del parent[last]
        return f"dropped {path}"
    if kind == 1 and isinstance(parent, dict):
        parent[rnd.choice(["nmae", "stage", "Events", "", "events "])] = parent.pop(last)
        return f"renamed {path}"
    if kind == 2 and isinstance(parent, list):
        parent.append(json.loads(json.dumps(parent[last])))
        return f"repeated {path}"
    value = rnd.choice(ODD_VALUES)
    parent[last] = value
    return f"{path} = {str(value)[:40]!r}"


def _yaml(data: Any, rnd: random.Random) -> str:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    trick = rnd.randrange(10)
    if trick == 0:  # an alias (refused: issue 19 item 10)
        text = "base: &a [visit]\n" + text.replace("- visit", "- *a", 1)
    elif trick == 1:  # broken syntax
        cut = rnd.randrange(len(text))
        text = (
            text[:cut]
            + rnd.choice([":", "\t", "- [", "{", "'", "\x00", "%", "!!python/object:os.system"])
            + text[cut:]
        )
    elif trick == 2:  # a duplicated key
        text += "name: twice\n"
    return text


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and value == value and abs(value) < 2**63:
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    return json.dumps("" if value is None else str(value))


def model_text(rnd: random.Random) -> tuple[str, str, str]:
    """(suffix, text, what changed) of a random model file."""
    data = json.loads(json.dumps(MODEL))
    changes = [_change(data, rnd) for _ in range(rnd.randint(0, 3))]
    if rnd.random() < 0.8 or not isinstance(data, dict):
        return ".yaml", _yaml(data, rnd), "; ".join(changes)
    lines = []
    for key, value in data.items():
        if key != "stages":
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    for stage in data.get("stages", []) if isinstance(data.get("stages"), list) else []:
        lines.append("[[stages]]")
        if isinstance(stage, dict):
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in stage.items()]
    return ".toml", "\n".join(lines) + "\n", "; ".join(changes)


def config_text(rnd: random.Random, model_file: str) -> tuple[str, str]:
    """(text, what) of a random hourglass.toml: [columns], [models], [lifecycle], [engine]."""
    tables: dict[str, dict[str, Any]] = {
        "columns": {"customer": "customer_id", "event": "event", "timestamp": "timestamp"},
        "models": {"mine": model_file},
        "lifecycle": {"repeat_within": "30d", "remorse_events": ["refund"]},
        "engine": {"name": "duckdb"},
    }
    what = []
    for _ in range(rnd.randint(1, 3)):
        table = rnd.choice([*tables, "nonsense"])
        key = rnd.choice(
            [*tables.get(table, {"x": 1}), "time_unit", "revenue", "channel", *LIFECYCLE_KEYS, "spark"]
        )
        value = rnd.choice([*ODD_VALUES, "ms", "us", "s", "user_id", "spark", "duckdb", model_file])
        tables.setdefault(table, {})[key] = value
        what.append(f"[{table}] {key} = {str(value)[:40]!r}")
    text = "".join(
        f"[{name}]\n" + "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in body.items())
        for name, body in tables.items()
    )
    if rnd.random() < 0.1:
        cut = rnd.randrange(len(text))
        text = text[:cut] + rnd.choice(["[", "=", '"', "\x00", "\n[columns]\n"]) + text[cut:]
        what.append(f"syntax broken at {cut}")
    return text, "; ".join(what)
