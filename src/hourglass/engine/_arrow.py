"""Arrow arrays and numpy arrays over each other's buffers, with no copy where it can be and no
pandas (pyarrow's ``to_numpy`` and ``pa.array(..., mask=)`` import it):

- :func:`from_numpy`: an Arrow array over numpy values (the range arrays of the hourglass page:
  engine/stage_firsts.py, facts_arrays.py, referrers_arrays.py; ``pa.array(..., mask=)`` took 58 ms
  per 1.5M timestamps, this well under 1);
- :func:`int_view`: an Arrow array of integers or times as a numpy view of its values;
- :func:`string_buffers`: a string array's offsets and bytes as numpy views (the readers' scans of
  raw event names: engine/parquet_names.py, journeys_parquet.py, journeys_parquet_sorted.py).

pyarrow itself is imported only by :func:`from_numpy` (the readers' modules import it lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    import pyarrow as pa

__all__ = ["from_numpy", "int_dtype", "int_view", "string_buffers"]


def from_numpy(values: np.ndarray, valid: np.ndarray | None, kind: pa.DataType) -> pa.Array:
    """``values`` (int64 or float64, the width of ``kind``) as an Arrow array of ``kind``, null where
    not ``valid`` (None: none null)."""
    import pyarrow as pa

    data = pa.py_buffer(np.ascontiguousarray(values))
    nulls = 0 if valid is None else len(values) - int(np.count_nonzero(valid))
    bits = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls and valid is not None else None
    return pa.Array.from_buffers(kind, len(values), [bits, data], null_count=nulls)


def int_view(a: Any) -> npt.NDArray[Any]:
    """An Arrow array of integers (signed or not, any width) or of times, its nulls' slots aside,
    as a read-only numpy view of its values."""
    dtype = int_dtype(a.type)
    got: npt.NDArray[Any] = np.frombuffer(
        a.buffers()[1], dtype=dtype, count=len(a), offset=a.offset * dtype.itemsize
    )
    return got


def int_dtype(kind: Any) -> np.dtype[Any]:
    """numpy's integer type of an Arrow integer or time type's values."""
    return np.dtype(f"{'u' if str(kind).startswith('uint') else ''}int{kind.bit_width}")


def string_buffers(a: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint8]]:
    """A string array's offsets (``len(a) + 1`` of them, int32, or int64 for a large string) and its
    bytes (empty when it has none) as numpy views."""
    bufs = a.buffers()
    width = np.dtype(np.int64 if str(a.type) in ("large_string", "large_utf8") else np.int32)
    off: npt.NDArray[Any] = np.frombuffer(
        bufs[1], dtype=width, count=len(a) + 1, offset=a.offset * width.itemsize
    )
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return off, data
