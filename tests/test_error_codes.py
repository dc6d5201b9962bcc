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


def test_every_coded_error_says_what_to_do() -> None:
    """Every ``XError(..., code=...)`` raised by the source also has a ``hint=`` (what to do)."""
    import ast

    missing = []
    for path in (ROOT / "src" / "hourglass").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            named = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if named and node.func.id.endswith("Error"):  # type: ignore[attr-defined]
                keywords = {k.arg for k in node.keywords}  # type: ignore[attr-defined]
                if "code" in keywords and "hint" not in keywords:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []
