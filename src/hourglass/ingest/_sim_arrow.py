"""Arrow columns for the simulator, built straight from numpy buffers: ``pa.array`` would import
pandas (1-3 s) when it is installed, and the simulator must stay fast to start."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["_arrow", "_fixed_strings", "_labels", "_strings"]

I64: TypeAlias = npt.NDArray[np.int64]
Mask: TypeAlias = npt.NDArray[np.bool_]


# Arrow arrays are built from buffers: ``pa.array`` would import pandas (1-3 s) when it is installed.
def _arrow(values: npt.NDArray[Any], typ: pa.DataType | None = None, mask: Mask | None = None) -> pa.Array:
    """Arrow array over a numpy array (int64 unless ``typ``); ``mask`` True = null."""
    v = np.ascontiguousarray(values, dtype=np.float64 if typ == pa.float64() else np.int64)
    if mask is None:
        return pa.Array.from_buffers(typ or pa.int64(), v.size, [None, pa.py_buffer(v)], null_count=0)
    valid = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    return pa.Array.from_buffers(
        typ or pa.int64(), v.size, [valid, pa.py_buffer(v)], null_count=int(mask.sum())
    )


def _strings(items: list[str] | tuple[str, ...]) -> pa.Array:
    data = [s.encode() for s in items]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(b) for b in data])
    buf = np.frombuffer(b"".join(data), dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(buf)])


def _labels(vocabulary: tuple[str, ...], codes: I64) -> pa.Array:
    """String column: ``vocabulary[code]``, null where the code is negative."""
    return _strings(vocabulary).take(_arrow(codes, mask=codes < 0))


def _fixed_strings(prefix: str, values: npt.NDArray[np.uint64], width: int, base: int) -> pa.Array:
    """String array ``prefix + values`` in ``base`` (10 or 16), zero-padded to ``width`` digits."""
    n, pre = values.size, prefix.encode()
    size = len(pre) + width
    if n * size >= 2**31:
        raise ValueError("too many rows for a string column")
    buf = np.empty((n, size), dtype=np.uint8)
    buf[:, : len(pre)] = np.frombuffer(pre, dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    v = values.astype(np.uint64)
    for j in range(size - 1, len(pre) - 1, -1):
        buf[:, j] = table[(v % np.uint64(base)).astype(np.intp)]
        v = v // np.uint64(base)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(size)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
