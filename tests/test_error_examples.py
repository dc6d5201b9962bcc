"""Every code of docs/errors.md has an example, and the example gives its code (issue 19).

The "Examples" section holds one ``sh`` block per code: ``printf '...' > FILE`` and ``python3 -c "..." >
FILE`` lines write files, ``hourglass ...`` lines run in-process (click's CliRunner; every one but the
last must succeed, the last must print ``[CODE]``), ``NAME=VALUE hourglass ...`` sets an environment
variable, ``>>> ...`` is Python that must raise the code. A code only a fault can give names the test
that triggers it (``# HGnnn: fault only: tests/FILE.py::TEST``), and that test must exist."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces.cli import cli
from hourglass.model.errors import HourglassError

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```sh\n(.*?)^```", DOC.split("\n## Examples\n", 1)[-1], re.M | re.S)
SETUP = next(b for b in BLOCKS if b.startswith("# setup"))
EXAMPLES = {m.group(1): b for b in BLOCKS if (m := re.match(r"# (HG\d{3})\b", b))}
DOCUMENTED = re.findall(r"^\| (HG\d{3}) \|", DOC, re.M)
FAULT = re.compile(r"# HG\d{3}: fault only: (?:(tests/\w+\.py)::(\w+)|(.+))")
#: fault-only codes no test of the suite triggers yet
UNTESTED_FAULTS: set[str] = set()


def _printf(line: str) -> None:
    text, target = re.fullmatch(r"printf '(.*)' > (\S+)", line).groups()  # type: ignore[union-attr]
    data = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), text.encode("utf-8"))
    data = data.replace(b"\\n", b"\n").replace(b"\\t", b"\t")
    Path(target).write_bytes(data)


def _python_file(line: str) -> None:
    """``python3 -c "CODE" > FILE``, run in-process (an interpreter's start-up costs seconds here)."""
    words = shlex.split(line)
    assert words[0] == "python3" and words[1] == "-c" and words[3] == ">", line
    with Path(words[4]).open("wb") as out, io.TextIOWrapper(out) as text, contextlib.redirect_stdout(text):
        exec(words[2], {})
        text.flush()


def _hourglass(line: str) -> tuple[int, str]:
    words = shlex.split(line)
    env = {}
    while "=" in words[0] and words[0] != "hourglass":
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[0] == "hourglass", line
    result = CliRunner().invoke(cli, words[1:], env={"COLUMNS": "200", "HOURGLASS_DEBUG": None, **env})
    return result.exit_code, result.stdout + result.stderr


def run_example(block: str) -> tuple[int, str]:
    """Run the block's lines; the last command's exit status and output."""
    status, output = 0, ""
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    for i, line in enumerate(lines):
        if line.startswith("printf "):
            _printf(line)
        elif line.startswith("python3 "):
            _python_file(line)
        elif line.startswith(">>> "):
            try:
                exec(line[4:], {"hourglass": hourglass})
            except HourglassError as e:
                return 2, f"[{e.code}] {e}"
            return 0, "no error raised"
        else:
            status, output = _hourglass(line)
            if i < len(lines) - 1:
                assert status == 0, f"{line}\n{output}"
    return status, output


@pytest.fixture(autouse=True)
def _folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_example(SETUP)


def test_every_documented_code_has_an_example() -> None:
    assert sorted(set(DOCUMENTED) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(DOCUMENTED)) == []


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_the_example_gives_its_code(code: str) -> None:
    block = EXAMPLES[code]
    fault = FAULT.match(block.strip())
    if fault:
        path, test, why = fault.groups()
        if why is not None:
            assert code in UNTESTED_FAULTS, f"{code}: name the test that triggers it ({why})"
            return
        text = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {test}\(", text, re.M), f"{code}: no test {path}::{test}"
        assert code in text, f"{code}: {path} never mentions it"
        return
    status, output = run_example(block)
    assert f"[{code}]" in output, f"{code}: exit {status}\n{output}"
    assert status in (1, 2) and "[HG699]" not in output, output
