"""Issue 19 item 10: a model or config file with YAML aliases ("billion laughs") is refused at once,
with the file and line, instead of expanding into gigabytes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hourglass.ingest.config import load_model, read_mapping_file
from hourglass.model.errors import ConfigError

LAUGHS = """name: x
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
description: [*g,*g,*g,*g,*g,*g,*g,*g,*g]
stages: [visit, signup]
"""


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text(LAUGHS, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        load_model(str(p))
    assert time.perf_counter() - start < 5  # generous: the expansion took 34 s and 3.5 GB
    assert e.value.code == "HG112"
    assert "line 3" in e.value.message and "alias" in e.value.message


def test_one_alias_is_refused_too(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("columns: &c {customer: user}\nmore: *c\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alias"):
        read_mapping_file(p)


def test_anchors_without_aliases_still_read(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text("name: x\nstages: &s [visit, signup]\n", encoding="utf-8")
    assert read_mapping_file(p)["stages"] == ["visit", "signup"]
