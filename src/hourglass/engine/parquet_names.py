"""The names of a model looked up in a Parquet string column's chunks, for engine/parquet_rows.py's
reader (issue 18, the `wide` shape): the rows whose value is one of the names, or has a *blank
edge* (ingest/normalize.py ``blank_edge``) and is one once trimmed exactly as engine/raw_step.py's
SQL trims (RE2's ``^\\s+|\\s+$``: ``[\\t\\n\\f\\r ]``, not ``\\v``; then NULLIF ''), each with its
name's 1-based position.

A gate of (first byte, byte length) pairs that some name has passes only the values that may be a
name (read from the string array's offsets and bytes in numpy, by blocks in a thread's scratch
arrays); those are looked up by ``pc.index_in``; the rare rows with a blank edge are told in Python.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from hourglass.engine._arrow import int_view, string_buffers
from hourglass.ingest.normalize import EDGE_SPACE

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Names", "indices", "trimmed", "valid_slots"]

#: engine/raw_step.py's trim (DuckDB's RE2: ``\s`` is [\t\n\f\r ], no \v; ``$`` the end only)
_TRIM = re.compile(r"\A[\t\n\f\r ]+|[\t\n\f\r ]+\Z")


def trimmed(raw: str) -> str | None:
    """The canonical event of a raw value with a blank edge, as engine/raw_step.py's SQL computes it."""
    return _TRIM.sub("", raw) or None


def _blank_edge(raw: str) -> bool:
    """ingest/normalize.py ``blank_edge`` of one value (a first character <= ' ' is a first byte
    <= 0x20 in UTF-8, as DuckDB's byte-wise ``s < '!'``)."""
    return raw == "" or raw[0] <= " " or raw.endswith(EDGE_SPACE)


class Names:
    """The names looked up: pyarrow's value set, each name's 1-based position, and a gate of
    (first byte, byte length) pairs that some name has (a value outside it is no name: only the
    values inside it are hashed by ``pc.index_in``; 10M `wide`: 0.25 -> ~0.1 CPU-s)."""

    def __init__(self, names: list[str]) -> None:
        import pyarrow as pa

        raw = [n.encode() for n in names]
        ends = np.cumsum([0, *(len(b) for b in raw)], dtype=np.int32)
        # from buffers: ``pa.array`` of a list imports pandas (~0.3 s of a fresh process)
        self.value_set = pa.Array.from_buffers(
            pa.string(), len(raw), [None, pa.py_buffer(ends.tobytes()), pa.py_buffer(b"".join(raw))]
        )
        self.lookup = {n: k for k, n in enumerate(names, start=1)}
        self.width = max((len(b) for b in raw), default=0) + 2  # the last column: longer than any
        gate = np.zeros((256, self.width), dtype=np.bool_)
        for b in raw:
            if b:
                gate[b[0], len(b)] = True
        self.gate = gate.ravel()

    def positions(self, arr: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """The rows of the string array ``arr`` whose value is a name (in order) and each one's
        1-based name position."""
        import pyarrow.compute as pc

        off, data = string_buffers(arr)
        valid = valid_slots(arr) if arr.null_count else None
        if len(data):
            rows, rare = self._scan(off, data, valid)
        else:  # every value empty (or null)
            edge: npt.NDArray[np.bool_] = off[1:] <= off[:-1]
            if valid is not None:
                edge &= valid
            rows, rare = np.zeros(0, np.int64), np.flatnonzero(edge)
        vals = np.zeros(0, np.int32)
        if len(rows):
            idx = pc.index_in(arr.take(indices(rows)), value_set=self.value_set)
            vals = int_view(idx) + 1
            if idx.null_count:
                hit = valid_slots(idx)
                rows, vals = rows[hit], vals[hit]
        if len(rare):  # a few rows: their canonical name, exactly
            told = [
                (k, self.lookup.get(trimmed(raw) or "", 0))
                for k, raw in zip(rare.tolist(), arr.take(indices(rare)).to_pylist(), strict=True)
                if _blank_edge(raw)  # else a last byte < 0x20 not blank: its lookup above stands
            ]
            if told:
                at_rows = np.asarray([k for k, _ in told], dtype=np.int64)
                kept = ~np.isin(rows, at_rows)
                named = np.asarray([v for _, v in told], dtype=np.int32)
                rows = np.concatenate([rows[kept], at_rows[named > 0]])
                vals = np.concatenate([vals[kept], named[named > 0]])
                order = np.argsort(rows, kind="stable")
                rows, vals = rows[order], vals[order]
        return rows.astype(np.int64, copy=False), vals.astype(np.int32, copy=False)

    def _scan(
        self, off: npt.NDArray[Any], data: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The rows whose (first byte, length) some name has, and the rows that may have a blank
        edge (empty, a first byte <= 0x20 or a last one: told exactly by the caller), from the
        string array's offsets and bytes (``data`` not empty). By blocks of ``_BLOCK`` rows in
        this thread's scratch arrays: whole-array temporaries were ~3,000 page faults per row group
        of 500k rows (10M `wide`: 60k faults, ~0.1 system CPU-s), and a block's passes stay in
        the cache."""
        n = len(off) - 1
        sc = _scratch()
        top = self.width - 1
        found, rare = [], []
        for lo in range(0, n, _BLOCK):
            k = min(_BLOCK, n - lo)
            at, size, tmp = sc.at[: k + 1], sc.size[:k], sc.tmp[:k]
            first, last, maybe, edge = sc.first[:k], sc.last[:k], sc.maybe[:k], sc.edge[:k]
            np.copyto(at, off[lo : lo + k + 1], casting="unsafe")
            np.subtract(at[1:], at[:-1], out=size)
            np.take(data, at[:-1], out=first, mode="clip")
            np.minimum(size, top, out=tmp)
            np.multiply(first, self.width, out=size, dtype=np.intp, casting="unsafe")
            size += tmp  # (size is the gate's index now; tmp keeps min(size, top): 0 for an empty)
            np.take(self.gate, size, out=maybe, mode="clip")
            # a blank edge (ingest/normalize.py ``blank_edge``): a first byte <= 0x20 or a last one
            # of ``EDGE_SPACE``; a last byte <= 0x20 marks a candidate, told exactly in Python
            np.subtract(at[1:], 1, out=size)
            np.take(data, size, out=last, mode="clip")
            np.minimum(first, last, out=first)
            np.less_equal(first, 0x20, out=edge)
            np.less_equal(tmp, 0, out=last.view(np.bool_))  # empty
            edge |= last.view(np.bool_)
            if valid is not None:
                maybe &= valid[lo : lo + k]
                edge &= valid[lo : lo + k]
            got = np.flatnonzero(maybe)
            if len(got):
                found.append(got + lo)
            got = np.flatnonzero(edge)
            if len(got):
                rare.append(got + lo)
        none = np.zeros(0, np.int64)
        return (
            np.concatenate(found).astype(np.int64, copy=False) if found else none,
            np.concatenate(rare).astype(np.int64, copy=False) if rare else none,
        )

    def chunk(self, arr: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """:meth:`positions` of a string or dictionary array (the dictionary's looked up once)."""
        import pyarrow as pa

        if not pa.types.is_dictionary(arr.type):
            return self.positions(arr)
        rows, vals = self.positions(arr.dictionary)
        per = np.zeros(len(arr.dictionary), np.int32)
        per[rows] = vals
        ind = arr.indices
        codes = int_view(ind)
        # a null slot's code may be anything: clipped, then zeroed below
        pos: npt.NDArray[np.int32] = (
            np.take(per, codes, mode="clip") if len(per) else np.zeros(len(arr), np.int32)
        )
        if arr.null_count:
            pos[~valid_slots(arr)] = 0
        keep = np.flatnonzero(pos)
        return keep.astype(np.int64, copy=False), pos[keep]


#: the rows of one block of :meth:`Names._scan` (its scratch arrays: ~1.7 MB a thread)
_BLOCK = 1 << 16


class _Scratch:
    """A thread's scratch arrays of :meth:`Names._scan` (made once per thread, reused)."""

    def __init__(self, block: int) -> None:
        self.at = np.empty(block + 1, dtype=np.intp)
        self.size = np.empty(block, dtype=np.intp)
        self.tmp = np.empty(block, dtype=np.intp)
        self.first = np.empty(block, dtype=np.uint8)
        self.last = np.empty(block, dtype=np.uint8)
        self.maybe = np.empty(block, dtype=np.bool_)
        self.edge = np.empty(block, dtype=np.bool_)


_LOCAL = threading.local()


def _scratch() -> _Scratch:
    """This thread's scratch arrays (of ``_BLOCK`` rows, which tests may lower)."""
    sc: _Scratch | None = getattr(_LOCAL, "scratch", None)
    if sc is None or len(sc.size) != _BLOCK:
        sc = _LOCAL.scratch = _Scratch(_BLOCK)
    return sc


def indices(rows: npt.NDArray[Any]) -> Any:
    """``rows`` (int64) as an Arrow array without a copy (``take`` of a numpy array converts it
    through ``pa.array``, which imports pandas: ~0.3 s of a fresh process)."""
    import pyarrow as pa

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])


def valid_slots(arr: Any) -> npt.NDArray[np.bool_]:
    """The validity of each slot of ``arr`` (which has nulls, so a bitmap)."""
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    got: npt.NDArray[np.bool_] = np.unpackbits(bits, bitorder="little")[
        arr.offset : arr.offset + len(arr)
    ].view(np.bool_)
    return got
