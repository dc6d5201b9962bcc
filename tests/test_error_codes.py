"""Every error code the source raises is documented in docs/errors.md, once, with a known class."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSES = {
    "SpecError",
    "ConfigError",
    "SourceError",
    "SchemaError",
    "DataError",
    "UnsupportedError",
    "EngineError",
}


def _documented() -> dict[str, str]:
    rows = re.findall(r"^\| (HG\d{3}) \| (\w+) \|", (ROOT / "docs" / "errors.md").read_text(), re.M)
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), "a code is documented twice"
    return dict(rows)


def test_every_raised_code_is_documented() -> None:
    used: set[str] = set()
    for path in (ROOT / "src" / "hourglass").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "model":
            continue  # the classes' fallback codes (HG100, HG200, ...), never raised bare
        used |= set(re.findall(r"\"(HG\d{3})\"", path.read_text(encoding="utf-8")))
    documented = _documented()
    assert used, "no codes found: the pattern is wrong"
    assert sorted(used - set(documented)) == []
    assert set(documented.values()) <= CLASSES
