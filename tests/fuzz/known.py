"""Findings of the fuzz suite that their owners have not fixed yet: each has its named xfail test in
tests/test_fuzz_findings.py and a reproduction in /work/notes/s3/findings.md. The fuzz tests let an outcome
that matches one of these pass (noting it), so that a known finding does not hide a new one; delete an
entry when its finding is fixed (its xfail test then passes and loses its mark)."""

from __future__ import annotations

import re

from fuzz.outcome import Outcome

__all__ = ["KNOWN", "known"]

#: finding number -> (commands it shows in (empty: any), pattern of its error output, source suffix or "")
KNOWN: dict[int, tuple[tuple[str, ...], str, str]] = {}


def known(outcome: Outcome, suffix: str = "") -> int | None:
    """The number of the known finding this HG699 outcome is, if any."""
    if outcome.code != "HG699":
        return None
    for number, (commands, pattern, suffixes) in KNOWN.items():
        if (
            (not commands or outcome.args[0] in commands)
            and re.search(pattern, outcome.stderr)
            and suffix.endswith(suffixes)
        ):
            return number
    return None
