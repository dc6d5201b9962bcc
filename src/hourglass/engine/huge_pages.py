"""The dashboard's process without transparent huge pages (issue 12: a new hourglass range at 10M).

Where the kernel's THP defrag policy is ``madvise`` (this machine's), a fresh page of memory that an
allocator marked for huge pages (numpy's own arrays, pyarrow's and DuckDB's allocators) may be
compacted for first: a new 90-day range at 10M events spent 0.7-3.0 system CPU-s per range in page
faults (the same code: 0.4-0.6 without; ``ChunkedArray.to_numpy`` of 5.7M int64 alone 0.6 s of
system time), and the figure wandered with the machine's other work. ``engine/_pages.py``
``small_pages`` turns numpy's advice off around its own passes; the allocators of pyarrow and
DuckDB are not reached by it. The Linux per-process flag ``PR_SET_THP_DISABLE`` turns huge pages
off for every mapping of the process: the dashboard's server (one process serving the pages)
sets it when it loads its source. Elsewhere (not Linux, a kernel without the flag) nothing is done.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["huge_pages_off", "huge_pages_state"]

_SET, _GET = 41, 42  # PR_SET_THP_DISABLE, PR_GET_THP_DISABLE (linux/prctl.h)


def _prctl() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def huge_pages_off() -> bool:
    """Transparent huge pages off for this process (and the processes it starts); True when the
    kernel took it."""
    prctl = _prctl()
    return callable(prctl) and prctl(_SET, 1, 0, 0, 0) == 0


def huge_pages_state() -> bool | None:
    """True: huge pages off for this process; None: not known (not Linux)."""
    prctl = _prctl()
    if not callable(prctl):
        return None
    got = prctl(_GET, 0, 0, 0, 0)
    return None if got < 0 else bool(got)
