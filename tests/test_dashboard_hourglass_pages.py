"""The dashboard's process without transparent huge pages (engine/huge_pages.py): loading its
source sets the Linux flag (their page faults were 0.7-3 system CPU-s of a new hourglass range at
10M events)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hourglass.engine.huge_pages import huge_pages_state

CHECK = """
import ctypes, sys
from hourglass.engine.huge_pages import huge_pages_state
from hourglass.interfaces.dashboard.data import load_source
# the flag is inherited: a test worker that loaded a dashboard's source before starts this child with it
ctypes.CDLL(None, use_errno=True).prctl(41, 0, 0, 0, 0)  # PR_SET_THP_DISABLE 0
before = huge_pages_state()
load_source(sys.argv[1])
print(before, huge_pages_state())
"""


@pytest.mark.skipif(huge_pages_state() is None, reason="not Linux")
def test_loading_the_dashboards_source_turns_huge_pages_off(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_text(
        "customer_id,event,timestamp\nu1,visit,2024-01-01 00:00:00\nu1,purchase,2024-01-02 00:00:00\n"
    )
    # a process of its own: the flag is the whole process's
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(csv)], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True"], out.stderr
