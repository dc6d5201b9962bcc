"""Integer microseconds since 1970-01-01 (UTC) as ISO 8601 text, on the proleptic Gregorian
calendar for every 64-bit value: the journey map's touchpoints and the followers' ``as_of``."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["iso_of_micros", "proleptic_iso"]


def iso_of_micros(us: int) -> str:
    """Microseconds since 1970 (UTC) as ISO 8601 text. Times beyond Python's years 1-9999 (a far-future
    placeholder such as 9999-12-31T23:00-05:00 is year 10000 in UTC) are computed on the proleptic
    Gregorian calendar, with as many year digits as needed (a minus sign before year 0)."""
    us = int(us)
    try:
        return (datetime(1970, 1, 1) + timedelta(microseconds=us)).isoformat()
    except OverflowError:
        return proleptic_iso(us)


def proleptic_iso(us: int) -> str:
    """``datetime.isoformat`` of any number of microseconds since 1970, by arithmetic."""
    days, rest = divmod(us, 86_400_000_000)
    secs, micro = divmod(rest, 1_000_000)
    # days since 1970-01-01 -> (year, month, day): H. Hinnant's civil_from_days
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    sign = "-" if year < 0 else ""
    clock = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}" + (f".{micro:06d}" if micro else "")
    return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}T{clock}"
