"""numpy's large arrays without transparent huge pages while the engine's numpy passes run (the
funnel's sequential scan, engine/fastpath_scan.py; the journeys' sort and kernels,
engine/journeys_seq.py).

numpy asks for huge pages on its large arrays by ``madvise``; where the kernel's THP defrag policy
is ``madvise`` (this machine's), each page fault of a fresh array may compact memory for a 2 MB page
first: the 50M ``returning`` Parquet file's scan, in a fresh process, spent 5.1 CPU-s in the kernel
with them and 1.0 without (wall 21.6 vs 13.5 s); the 10M event-level transitions 0.4-1.6 system
CPU-s against 0.2. The setting is numpy's, process-wide and private (left alone where absent): the
first of overlapping users (the dashboard's views run in threads) turns it off, the last restores
it. :func:`huge_room` tells a caller that would keep them whether the free memory still holds
that many whole 2 MB blocks (else the faults compact memory first)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["huge_room", "small_pages"]

#: the kernel's free blocks by order, per zone
BUDDYINFO = Path("/proc/buddyinfo")
#: the kernel's page and a transparent huge page's sizes (4 kB and 2 MB where not read)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
HUGE_BYTES_FILE = Path("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")

_lock = threading.Lock()
_users = 0
_before = True


def _setter() -> object:
    core = getattr(np, "_core", None)
    return getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy's new arrays without ``madvise(MADV_HUGEPAGE)`` for the duration; restored by the last
    of overlapping users (threads), also on an error."""
    global _users, _before
    setter = _setter()
    if not callable(setter):
        yield
        return
    with _lock:
        if _users == 0:
            _before = bool(setter(False))
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                setter(_before)


def huge_room(nbytes: int) -> bool:
    """Whether the kernel's free blocks of a huge page or more (``/proc/buddyinfo``, every zone)
    hold ``nbytes``: fresh arrays of that size then get huge pages without compacting memory. True
    where the file is absent or unreadable (no transparent huge pages to compact for)."""
    try:
        text = BUDDYINFO.read_text()
    except OSError:
        return True
    try:
        huge = int(HUGE_BYTES_FILE.read_text().strip())
    except (OSError, ValueError):
        huge = 2 << 20
    smallest = max(0, (huge // PAGE_BYTES).bit_length() - 1)  # the order of a huge page's block
    free = 0
    for line in text.splitlines():
        # "Node 0, zone   Normal      2    546 ...": the free blocks of order 0, 1, ...
        _, _, counts = line.partition("zone")
        fields = counts.split()[1:]
        for order, count in enumerate(fields):
            if order >= smallest and count.isdigit():
                free += int(count) * PAGE_BYTES << order
    return free >= nbytes
