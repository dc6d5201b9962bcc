"""Declarative event-log fixtures.

    journeys({
        "alice": [
            ("visit", "2024-01-01 10:00"),
            ("purchase", "2024-01-02 09:00", {"revenue": 20.0, "channel": "ads"}),
        ],
        "bob": [],
    })

returns a pandas DataFrame with columns ``customer``, ``event``, ``timestamp`` (``datetime64[us]``,
naive UTC) and one column per property. Rows keep the order in which they are written (so a fixture
may list events out of time order on purpose). A missing property is ``None`` in an ``object``
column and ``NaN`` in a numeric (``float64``) column, pandas' own missing value there. A customer
with no events produces no rows.

``rows(df)`` turns such a frame into the reference implementation's input: a list of dicts with
``timestamp`` as a naive ``datetime`` and every missing value as ``None``.
"""

from __future__ import annotations

import math
from datetime import datetime
from numbers import Real
from typing import Any

import pandas as pd

Event = tuple[str, Any] | tuple[str, Any, dict[str, Any]]


def parse_timestamp(value: str | datetime | pd.Timestamp) -> datetime:
    """``"2024-01-01 10:00"``, ``"2024-01-01 10:00:00.000001"``, a datetime or a Timestamp."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _is_numeric_column(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, Real) and not isinstance(v, bool) for v in present)


def journeys(spec: dict[str, list[Event]], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Build an event log from ``{customer: [(event, timestamp[, properties]), ...]}``.

    ``dtypes`` forces the dtype of property columns (and creates them, all missing, when no event
    has them), e.g. ``{"revenue": "float64", "channel": "object"}``.
    """
    records: list[dict[str, Any]] = []
    properties: list[str] = []
    for customer, events in spec.items():
        for item in events:
            name, ts, *rest = item
            props = dict(rest[0]) if rest else {}
            for key in props:
                if key in ("customer", "event", "timestamp"):
                    raise ValueError(f"property {key!r} collides with a canonical column")
                if key not in properties:
                    properties.append(key)
            records.append(
                {
                    "customer": customer,
                    "event": name,
                    "timestamp": parse_timestamp(ts),
                    **props,
                }
            )
    for column in dtypes or {}:
        if column not in properties:
            properties.append(column)

    columns: dict[str, pd.Series] = {
        "customer": pd.Series([r["customer"] for r in records], dtype=object),
        "event": pd.Series([r["event"] for r in records], dtype=object),
        "timestamp": pd.Series([r["timestamp"] for r in records], dtype="datetime64[us]"),
    }
    for column in properties:
        values = [r.get(column) for r in records]
        dtype = (dtypes or {}).get(column)
        if dtype is None:
            dtype = "float64" if _is_numeric_column(values) else "object"
        if dtype == "object":
            columns[column] = pd.Series(values, dtype=object)
        else:
            columns[column] = pd.Series([math.nan if v is None else v for v in values], dtype=dtype)
    return pd.DataFrame(columns)


def _plain(value: Any) -> Any:
    """numpy / pandas scalars to plain Python; every missing value to ``None``."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The reference implementation's input: one dict per row, missing values as ``None``."""
    return [
        {column: _plain(value) for column, value in zip(df.columns, values, strict=True)}
        for values in df.itertuples(index=False, name=None)
    ]
