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

__all__ = ["FUNNELS", "STAGES", "VOCAB", "dataset_path", "ensure_dataset", "generate"]

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


def dataset_path(data_dir: Path, events: int, seed: int, *, channel: bool = False) -> Path:
    tag = "_channel" if channel else ""
    return data_dir / f"journeys_v{FORMAT_VERSION}_{events}_s{seed}{tag}.parquet"


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


def generate(events: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer index int32, timestamp µs int64, event code int8 into VOCAB, customer ids int64),
    exactly ``events`` rows, not yet in time order."""
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
    probs = np.array([NOISE_WEIGHTS.get(v, 0.0) for v in VOCAB])
    cum_noise = np.cumsum(probs / probs.sum())
    remaining = events - journey
    while remaining > 0:
        k = min(CHUNK, remaining)
        who = np.searchsorted(cum, rng.random(k) * cum[-1], side="right").clip(0, n_cust - 1)
        who = who.astype(np.int32)
        cust_parts.append(who)
        ts_parts.append(t0[who] + (rng.random(k) * span[who]).astype(np.int64))
        code_parts.append(np.searchsorted(cum_noise, rng.random(k), side="right").clip(0, len(VOCAB) - 1))
        code_parts[-1] = code_parts[-1].astype(np.int8)
        remaining -= k
    return np.concatenate(cust_parts), np.concatenate(ts_parts), np.concatenate(code_parts), ids


def _write(path: Path, events: int, seed: int, *, channel: bool) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    cust, ts, code, ids = generate(events, seed)
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
    vocab = pa.array(VOCAB, pa.string())
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


def ensure_dataset(data_dir: Path, events: int, seed: int, *, channel: bool = False) -> Path:
    """The cached Parquet file for (events, seed[, channel]); generated if missing, in a child
    process (so that the caller stays small: a child's peak RSS starts at its parent's)."""
    path = dataset_path(data_dir, events, seed, channel=channel)
    if path.exists():
        print(f"data: reusing {path} ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"data: generating {events:,} events -> {path} ...", flush=True)
    started = time.perf_counter()
    cmd = [sys.executable, str(Path(__file__).resolve()), str(events), str(seed), str(data_dir)]
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
    a = ap.parse_args()
    _write(dataset_path(a.data_dir, a.events, a.seed, channel=a.channel), a.events, a.seed, channel=a.channel)
