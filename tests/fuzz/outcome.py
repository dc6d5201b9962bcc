"""Run one hourglass command in-process (click's CliRunner) or in a bounded subprocess, and judge its
outcome: a correct answer (exit 0), a coded error (``[HGnnn]`` other than HG699, exit 2; ``validate``
exits 1 with its problems; click's usage errors, exit 2, for a value of the wrong type or choice), or a
bug (HG699, a traceback, another exit status, too slow, too big)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from hourglass.interfaces.cli import cli

__all__ = ["Outcome", "bounded", "run"]

CODE = re.compile(r"\[(HG\d{3})\]")
#: one in-process case may take this long (the small files of the suite take ~0.05-0.5 s)
SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    """What a command did: its exit status, its output and the first error code it printed."""

    args: tuple[str, ...]
    status: int
    stdout: str
    stderr: str
    seconds: float
    crash: str | None = None  # an exception that escaped the CLI's handler

    @property
    def code(self) -> str | None:
        found = CODE.search(self.stderr)
        return found.group(1) if found else None

    @property
    def ok(self) -> bool:
        return self.status == 0 and self.crash is None

    def problem(self) -> str | None:
        """Why this outcome is a bug (None when it is an answer or a coded error)."""
        if self.crash:
            return f"an exception escaped: {self.crash}"
        if "Traceback" in self.stdout + self.stderr:
            return "a traceback was printed"
        if self.seconds > SECONDS:
            return f"took {self.seconds:.1f} s"
        if self.status == 0:
            return None
        code = self.code
        if code == "HG699" or self.status == 3:
            return f"HG699 (a bug): {self.stderr.strip()[:600]}"
        validate_found = self.status == 1 and self.args[:1] == ("validate",)
        if self.status not in (1, 2) or (self.status == 1 and not validate_found):
            return f"exit status {self.status}: {(self.stderr or self.stdout).strip()[:600]}"
        usage = self.status == 2 and "Usage:" in self.stderr and "Error:" in self.stderr
        if code is None and not validate_found and not usage:  # click's own usage errors are fine
            return f"an error without a code: {self.stderr.strip()[:600]}"
        return None

    def describe(self) -> str:
        return f"hourglass {' '.join(self.args)} -> {self.status} {self.code}\n{self.stderr[:1500]}"


def run(*args: str | Path, env: dict[str, str | None] | None = None) -> Outcome:
    """The command in-process (HOURGLASS_DEBUG unset, so a bug is HG699 and not a traceback)."""
    strs = tuple(str(a) for a in args)
    start = time.perf_counter()
    result = CliRunner().invoke(cli, list(strs), env={"HOURGLASS_DEBUG": None, **(env or {})})
    seconds = time.perf_counter() - start
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = f"{type(result.exception).__name__}: {result.exception}"[:600]
    return Outcome(strs, result.exit_code, result.stdout, result.stderr, seconds, crash)


def _limit(memory: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def bounded(*args: str | Path, cwd: Path, seconds: float = 60.0, memory_mb: int = 3000) -> Outcome:
    """The command in a subprocess under an address-space cap and a timeout: a runaway is a bug
    (reported as such, the child killed) instead of a stalled or swapping test run."""
    strs = tuple(str(a) for a in args)
    code = "from hourglass.interfaces.cli import main; main()"
    env = {k: v for k, v in os.environ.items() if k != "HOURGLASS_DEBUG"}
    env["COLUMNS"] = "200"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, *strs],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds,
            preexec_fn=lambda: _limit(memory_mb << 20),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(strs, -9, "", "", time.perf_counter() - start, crash=f"killed after {seconds:.0f} s")
    took = time.perf_counter() - start
    return Outcome(strs, proc.returncode, proc.stdout, proc.stderr, took)
