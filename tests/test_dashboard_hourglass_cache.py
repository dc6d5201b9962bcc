"""The dashboard's disk cache (dashboard/disk_cache.py): a result it cannot keep is counted in
``DiskCache.skipped`` and logged once per view and reason, not dropped silently; the code version is
the code the process loaded (a module edited while it runs does not make a new context)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hourglass.interfaces.dashboard import disk_cache
from hourglass.interfaces.dashboard.disk_cache import DiskCache


def _kept_not(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "not kept on disk" in r.getMessage()]


def test_a_result_the_disk_cannot_keep_is_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DiskCache(tmp_path / "c", ("v1",))
    with caplog.at_level("WARNING", logger="hourglass.dashboard"):
        cache.put("funnel", ("k",), lambda: None)  # a closure does not pickle
        cache.put("funnel", ("k2",), lambda: None)
    assert cache.get("funnel", ("k",)) == (False, None) and cache.writes == 0
    assert "cannot be pickled" in cache.skipped["funnel"]
    assert len(_kept_not(caplog)) == 1  # once per view and reason
    monkeypatch.setattr(disk_cache, "MAX_BYTES", 1000)
    with caplog.at_level("WARNING", logger="hourglass.dashboard"):
        cache.put("overview", ("k",), b"x" * 5000)
    assert "more than" in cache.skipped["overview"] and len(_kept_not(caplog)) == 2
    shutil.rmtree(tmp_path / "c")  # the disk's mistake: not written
    with caplog.at_level("WARNING", logger="hourglass.dashboard"):
        cache.put("journeys", ("k",), {"n": 1})
    assert cache.skipped["journeys"].startswith("not written") and len(_kept_not(caplog)) == 3


def test_the_code_version_is_the_code_loaded() -> None:
    """Computed once per process: a module edited while the server runs (another checkout's commit)
    is not a new context for the code already loaded, so a restart of the dashboard in the same
    process reads what it wrote (the 10M bench's restart computed every page again)."""
    assert disk_cache.code_version() is disk_cache.code_version()
