"""The benchmark's synthetic journey log: seeded, vectorised (numpy arrays, no per-event Python
objects), written once as Parquet in time order and cached under ``bench/data/``.

Shape (one row per event, ~20 events per customer on average):

- ``customer_id`` BIGINT: a random 62-bit integer per customer (unique);
- ``event`` string; ``timestamp`` timestamp[us] (naive, read as UTC);
- ``channel`` string (only in the ``--by channel`` file): the customer's acquisition channel, one of 8,
  constant per customer (so ClickHouse's ``GROUP BY customer_id, channel`` is the same breakdown as
  hourglass's "value at the best chain's entry"). The first three columns are identical with and
  without it.

Each customer starts at a uniform time in a 90-day period and walks the 10-stage journey ``STAGES``
(visit, view_pricing, signup, ...): at every stage he continues with the probability ``CONTINUE``,
after a log-normal gap (median 4 h, heavy tail, so the 7-day window matters); the auxiliary stages
(not in the 5-step funnel) are emitted only 80% of the time when passed. Most customers only visit;
about 27% sign up, 12% start a trial, 4% purchase, 1.4% purchase again (before the window cuts).
The rest of the events are noise spread over the customer's active period (log-normal activity per
customer, so some are heavy users): page views, clicks, ..., returning visits, and a few stray
funnel events out of order.

Shapes (``--shape``, issue 18; bench/SHAPES.md): ``once`` is the log above; ``returning``: customers
come back and restart the journey (about 4.6 visits each), activity heavy-tailed (events per customer
log-normal: median ~12, p99 ~120, max ~1,700 at 10M); ``bots``: the ``once`` log plus 3 ids with up
to 10^5 events each (visit and signup alternating 1 s apart); ``wide``: the ``once`` log with its
noise events renamed so that there are min(10^6, noise events) distinct event names; ``late``: the
``once`` log with 5x the stray funnel events, some before the customer's first visit (out of order).
Every shape is exactly ``events`` rows, deterministic for a seed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FUNNELS",
    "SHAPES",
    "STAGES",
    "VOCAB",
    "dataset_path",
    "ensure_dataset",
    "event_names",
    "generate",
]

#: The journey, in order. The 3-, 5- and 10-step funnels (``FUNNELS``) are subsequences of it.
STAGES = (
    "visit",
    "view_pricing",
    "signup",
    "onboarding",
    "trial",
    "activate",
    "checkout",
    "purchase",
    "invite",
    "repeat_purchase",
)
FUNNELS: dict[int, tuple[str, ...]] = {
    3: ("visit", "signup", "purchase"),
    5: ("visit", "signup", "trial", "purchase", "repeat_purchase"),
    10: STAGES,
}
#: P(continue from stage s to s+1), s = visit .. invite.
CONTINUE = (0.45, 0.6, 0.75, 0.6, 0.7, 0.6, 0.85, 0.55, 0.6)
#: The stages that are always emitted when reached (the 5-step funnel); others 80% of the time.
CORE = frozenset(FUNNELS[5])
AUX_EMIT = 0.8
NOISE_NAMES = (
    "page_view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "email_open",
    "logout",
    "support_chat",
)
VOCAB = STAGES + NOISE_NAMES
#: Weights of noise events over VOCAB (stray funnel events included, rarely).
NOISE_WEIGHTS = {
    "page_view": 0.44,
    "click": 0.2,
    "scroll": 0.1,
    "search": 0.07,
    "add_to_cart": 0.04,
    "email_open": 0.04,
    "logout": 0.015,
    "support_chat": 0.005,
    "visit": 0.07,
    "view_pricing": 0.01,
    "signup": 0.002,
    "trial": 0.002,
    "purchase": 0.002,
    "repeat_purchase": 0.001,
    "onboarding": 0.001,
    "activate": 0.001,
    "checkout": 0.002,
    "invite": 0.001,
}
#: ``late``: the stray funnel events' weights (not visit's) are multiplied by this (out of order as noise)
LATE_FACTOR = 5.0
#: ``late``: noise may come this fraction of the customer's active span before his first visit
LATE_EARLY = 0.5
SHAPES = ("once", "returning", "bots", "wide", "late")
#: ``bots``: how many, and the most events of each (visit/signup alternating ``BOT_GAP_US`` apart)
BOTS, BOT_EVENTS, BOT_GAP_US = 3, 100_000, 1_000_000
#: ``wide``: the most distinct event names
WIDE_NAMES = 1_000_000
#: ``returning``: events per customer, log-normal (median, sigma: p99 ~ median * e^(2.33 sigma))
RETURNING_MEDIAN, RETURNING_SIGMA = 12.0, 0.99
#: ``returning``: journeys per event of a customer (with the noise's visits: ~4.6 visits at ~20 events)
RETURNING_VISIT_RATE = 0.19
CHANNELS = ("organic", "paid_search", "social", "email", "referral", "display", "affiliate", "direct")
CHANNEL_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05)

EVENTS_PER_CUSTOMER = 20
START_US = 1_704_067_200_000_000  # 2024-01-01 00:00:00 UTC
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
PERIOD_DAYS = 90
ROW_GROUP = 500_000  # rows per Parquet row group: 2 at 1M events, so both engines can use both cores
CHUNK = 4_000_000
FORMAT_VERSION = 1  # bump when the generator changes: cached files are named by it


def dataset_path(
    data_dir: Path, events: int, seed: int, *, channel: bool = False, shape: str = "once"
) -> Path:
    tag = ("" if shape == "once" else f"_{shape}") + ("_channel" if channel else "")
    return data_dir / f"journeys_v{FORMAT_VERSION}_{events}_s{seed}{tag}.parquet"


def event_names(shape: str = "once") -> tuple[str, ...]:
    """The event names that :func:`generate`'s codes index (``wide``: VOCAB, then WIDE_NAMES more)."""
    if shape != "wide":
        return VOCAB
    return VOCAB + tuple(f"n{k:06d}" for k in range(WIDE_NAMES))


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    import numpy as np

    ids = rng.integers(0, 1 << 62, size=n, dtype=np.int64)
    while True:  # 62-bit collisions are vanishingly rare, but ids must be unique
        uniq, first = np.unique(ids, return_index=True)
        if len(uniq) == n:
            return ids
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        ids[dup] = rng.integers(0, 1 << 62, size=int(dup.sum()), dtype=np.int64)


def generate(
    events: int, seed: int, shape: str = "once"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer index int32, timestamp µs int64, event code into :func:`event_names` (int8; int32
    for ``wide``), customer ids int64), exactly ``events`` rows of ``shape``, not in time order."""
    import numpy as np

    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    if shape == "returning":
        return _returning(events, seed)
    bots = min(BOTS, events // 20) if shape == "bots" else 0
    per_bot = min(BOT_EVENTS, events // 20) if bots else 0
    cust, ts, code, ids = _once(events - bots * per_bot, seed, late=shape == "late")
    if shape == "wide":  # noise events (not a stage) renamed: min(WIDE_NAMES, noise) distinct names
        code = code.astype(np.int32)
        noise = np.flatnonzero(code >= len(STAGES))
        k = np.random.default_rng([seed, 2]).permutation(len(noise)) % WIDE_NAMES
        code[noise] = len(VOCAB) + k
    if bots:
        brng = np.random.default_rng([seed, 3])
        more = brng.integers(0, 1 << 62, size=bots, dtype=np.int64)
        while np.isin(more, ids).any() or len(np.unique(more)) < bots:  # unique ids, never in practice
            more = brng.integers(0, 1 << 62, size=bots, dtype=np.int64)
        step = np.arange(per_bot, dtype=np.int64)
        bcust = np.repeat(np.arange(len(ids), len(ids) + bots, dtype=np.int32), per_bot)
        start = START_US + brng.integers(0, DAY_US, size=bots, dtype=np.int64)
        bts = (start[:, None] + step[None, :] * BOT_GAP_US).ravel()
        bcode = np.tile(np.where(step % 2 == 0, 0, STAGES.index("signup")), bots).astype(code.dtype)
        cust, ts, code = (np.concatenate(p) for p in ((cust, bcust), (ts, bts), (code, bcode)))
        ids = np.concatenate([ids, more])
    return cust, ts, code, ids


def _once(
    events: int, seed: int, *, late: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``once`` log (``late``: more stray funnel events, some before the first visit)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_cust = max(1, events // EVENTS_PER_CUSTOMER)
    ids = _customer_ids(rng, n_cust)
    t0 = START_US + rng.integers(0, PERIOD_DAYS * DAY_US, size=n_cust, dtype=np.int64)

    # the journey: stage by stage over all customers at once
    cust_parts: list[np.ndarray] = [np.arange(n_cust, dtype=np.int32)]
    ts_parts: list[np.ndarray] = [t0.copy()]
    code_parts: list[np.ndarray] = [np.zeros(n_cust, dtype=np.int8)]
    alive = np.ones(n_cust, dtype=bool)
    t = t0.copy()
    for s in range(1, len(STAGES)):
        alive &= rng.random(n_cust) < CONTINUE[s - 1]
        gap = rng.lognormal(mean=np.log(4 * HOUR_US), sigma=1.5, size=n_cust).astype(np.int64)
        t = t + gap + 1
        emit = alive if STAGES[s] in CORE else alive & (rng.random(n_cust) < AUX_EMIT)
        who = np.flatnonzero(emit).astype(np.int32)
        cust_parts.append(who)
        ts_parts.append(t[who])
        code_parts.append(np.full(len(who), s, dtype=np.int8))
    journey = sum(len(p) for p in cust_parts)
    if journey > events:  # tiny logs: keep the first events of the journey
        cust = np.concatenate(cust_parts)[:events]
        return cust, np.concatenate(ts_parts)[:events], np.concatenate(code_parts)[:events], ids

    # noise: the remaining events, spread by per-customer activity over each one's active period
    activity = rng.lognormal(0.0, 1.0, size=n_cust)
    cum = np.cumsum(activity)
    span = (rng.exponential(20.0, size=n_cust) * DAY_US).astype(np.int64) + HOUR_US
    factor = LATE_FACTOR if late else 1.0
    probs = np.array([NOISE_WEIGHTS.get(v, 0.0) * (factor if v in STAGES[1:] else 1.0) for v in VOCAB])
    cum_noise = np.cumsum(probs / probs.sum())
    early = LATE_EARLY if late else 0.0
    remaining = events - journey
    while remaining > 0:
        k = min(CHUNK, remaining)
        who = np.searchsorted(cum, rng.random(k) * cum[-1], side="right").clip(0, n_cust - 1)
        who = who.astype(np.int32)
        cust_parts.append(who)
        ts_parts.append(t0[who] + ((rng.random(k) * (1 + early) - early) * span[who]).astype(np.int64))
        code_parts.append(np.searchsorted(cum_noise, rng.random(k), side="right").clip(0, len(VOCAB) - 1))
        code_parts[-1] = code_parts[-1].astype(np.int8)
        remaining -= k
    return np.concatenate(cust_parts), np.concatenate(ts_parts), np.concatenate(code_parts), ids


def _walk(rng: np.random.Generator, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The journey from each of ``start`` (µs): (journey index, time, stage code) of its events."""
    import numpy as np

    n = len(start)
    idx: list[np.ndarray] = [np.arange(n, dtype=np.int64)]
    ts: list[np.ndarray] = [start.copy()]
    codes: list[np.ndarray] = [np.zeros(n, dtype=np.int8)]
    alive = np.ones(n, dtype=bool)
    t = start.copy()
    for s in range(1, len(STAGES)):
        alive &= rng.random(n) < CONTINUE[s - 1]
        t = t + rng.lognormal(mean=np.log(4 * HOUR_US), sigma=1.5, size=n).astype(np.int64) + 1
        emit = alive if STAGES[s] in CORE else alive & (rng.random(n) < AUX_EMIT)
        who = np.flatnonzero(emit)
        idx.append(who)
        ts.append(t[who])
        codes.append(np.full(len(who), s, dtype=np.int8))
    return np.concatenate(idx), np.concatenate(ts), np.concatenate(codes)


def _returning(events: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers who come back: each has a log-normal budget of events (heavy-tailed), about
    RETURNING_VISIT_RATE journeys (visits) per event of it, each a walk of the journey from a time in
    his active period (the first at its start), and noise for the rest of his budget."""
    import numpy as np

    rng = np.random.default_rng([seed, 4])
    mean = RETURNING_MEDIAN * float(np.exp(RETURNING_SIGMA**2 / 2))
    n_cust = max(1, round(events / mean))
    ids = _customer_ids(rng, n_cust)
    budget = np.maximum(1, rng.lognormal(np.log(RETURNING_MEDIAN), RETURNING_SIGMA, n_cust)).astype(np.int64)
    visits = np.maximum(1, rng.poisson(budget * RETURNING_VISIT_RATE))
    t0 = START_US + rng.integers(0, PERIOD_DAYS * DAY_US, size=n_cust, dtype=np.int64)
    span = (rng.exponential(30.0, size=n_cust) * DAY_US).astype(np.int64) + HOUR_US
    owner = np.repeat(np.arange(n_cust, dtype=np.int32), visits)
    starts = t0[owner] + (rng.random(len(owner)) * span[owner]).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(visits)[:-1]])
    starts[first] = t0  # every customer's first visit starts his active period
    j, jts, jcode = _walk(rng, starts)
    jcust = owner[j]
    left = np.maximum(0, budget - np.bincount(jcust, minlength=n_cust))
    total = len(jcust) + int(left.sum())
    if total < events:  # more noise, for customers drawn by their budgets
        more = rng.choice(n_cust, size=events - total, p=budget / budget.sum())
        left += np.bincount(more, minlength=n_cust)
    ncust = np.repeat(np.arange(n_cust, dtype=np.int32), left)
    nts = t0[ncust] + (rng.random(len(ncust)) * span[ncust]).astype(np.int64)
    probs = np.array([NOISE_WEIGHTS.get(v, 0.0) for v in VOCAB])
    ncode = rng.choice(len(VOCAB), size=len(ncust), p=probs / probs.sum()).astype(np.int8)
    cust, ts, code = (np.concatenate(p) for p in ((jcust, ncust), (jts, nts), (jcode, ncode)))
    if len(cust) > events:  # too many: drop noise rows first (at random), then journey rows
        noise = np.arange(len(jcust), len(cust))
        extra = len(cust) - events
        drop = rng.choice(noise, size=extra, replace=False) if extra <= len(noise) else None
        keep = np.ones(len(cust), dtype=bool)
        if drop is None:
            keep[noise] = False
            keep[rng.choice(len(jcust), size=extra - len(noise), replace=False)] = False
        else:
            keep[drop] = False
        cust, ts, code = cust[keep], ts[keep], code[keep]
    return cust, ts, code, ids


def _write(path: Path, events: int, seed: int, *, channel: bool, shape: str = "once") -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    cust, ts, code, ids = generate(events, seed, shape)
    order = np.argsort(ts, kind="stable")  # the log is in time order
    fields = [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us"), nullable=False),
    ]
    chan_of = None
    if channel:  # a separate stream, so the first three columns do not change
        crng = np.random.default_rng([seed, 1])
        chan_of = crng.choice(len(CHANNELS), size=len(ids), p=CHANNEL_WEIGHTS).astype(np.int8)
        fields.append(pa.field("channel", pa.string(), nullable=False))
    schema = pa.schema(fields)
    vocab = pa.array(event_names(shape), pa.string())
    channels = pa.array(CHANNELS, pa.string())
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with pq.ParquetWriter(tmp, schema, compression="snappy") as w:
        for start in range(0, len(order), ROW_GROUP):
            idx = order[start : start + ROW_GROUP]
            c = cust[idx]
            cols = [
                pa.array(ids[c]),
                pa.DictionaryArray.from_arrays(pa.array(code[idx]), vocab).cast(pa.string()),
                pa.array(ts[idx]).cast(pa.timestamp("us")),
            ]
            if chan_of is not None:
                cols.append(pa.DictionaryArray.from_arrays(pa.array(chan_of[c]), channels).cast(pa.string()))
            w.write_table(pa.Table.from_arrays(cols, schema=schema), row_group_size=ROW_GROUP)
    tmp.replace(path)


def ensure_dataset(
    data_dir: Path, events: int, seed: int, *, channel: bool = False, shape: str = "once"
) -> Path:
    """The cached Parquet file for (events, seed[, channel][, shape]); generated if missing, in a child
    process (so that the caller stays small: a child's peak RSS starts at its parent's)."""
    path = dataset_path(data_dir, events, seed, channel=channel, shape=shape)
    if path.exists():
        print(f"data: reusing {path} ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"data: generating {events:,} events -> {path} ...", flush=True)
    started = time.perf_counter()
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        str(events),
        str(seed),
        str(data_dir),
        "--shape",
        shape,
    ]
    subprocess.run([*cmd, "--channel"] if channel else cmd, check=True)
    took = time.perf_counter() - started
    print(f"data: wrote {path.stat().st_size / 2**20:.0f} MiB in {took:.1f} s", flush=True)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="write one journey log (see ensure_dataset)")
    ap.add_argument("events", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--channel", action="store_true")
    ap.add_argument("--shape", choices=SHAPES, default="once", help="the log's shape (module docstring)")
    a = ap.parse_args()
    path = dataset_path(a.data_dir, a.events, a.seed, channel=a.channel, shape=a.shape)
    a.data_dir.mkdir(parents=True, exist_ok=True)
    _write(path, a.events, a.seed, channel=a.channel, shape=a.shape)
