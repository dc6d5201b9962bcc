"""Errors that are not a user's mistake: the engine running out of memory (HG601) and bugs (HG699,
exit status 3) are reported with a code and a hint, never as a traceback (HOURGLASS_DEBUG=1 shows
it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import hourglass
from hourglass.interfaces import api
from hourglass.interfaces.cli import cli
from hourglass.model.errors import EngineError, HourglassError


def test_out_of_memory_is_a_coded_error() -> None:
    engine = hourglass.connect()
    engine.con.con.execute("SET memory_limit = '4MB'")
    engine.con.con.execute("SET temp_directory = ''")  # nowhere to spill
    n = 300_000
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n) % 1000,
            "event": np.where(np.arange(n) % 2 == 0, "visit", "signup"),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="s"),
        }
    )
    with pytest.raises(EngineError) as err:
        hourglass.funnel(df, ["visit", "signup"], window="30d", mode="any_order", engine=engine)
    assert err.value.code == "HG601" and isinstance(err.value, RuntimeError)
    assert "out of memory" in str(err.value) and "hourglass ingest" in (err.value.hint or "")


def _boom(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("an unforeseen failure")


@pytest.fixture
def source(tmp_path: Path) -> str:
    path = tmp_path / "ev.csv"
    path.write_text("customer_id,event,timestamp\na,visit,2024-01-01 10:00\n")
    return str(path)


def test_a_bug_is_reported_not_dumped(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.setattr(api, "funnel", _boom)
    result = CliRunner().invoke(cli, ["funnel", source, "--steps", "visit"], env={"HOURGLASS_DEBUG": None})
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    err = " ".join(result.stderr.split())
    assert "[HG699] internal error: ZeroDivisionError: an unforeseen failure" in err
    assert "HOURGLASS_DEBUG=1" in err


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.setattr(api, "funnel", _boom)
    result = CliRunner().invoke(cli, ["funnel", source, "--steps", "visit"], env={"HOURGLASS_DEBUG": "1"})
    assert isinstance(result.exception, ZeroDivisionError)


def test_ctrl_c_stops_quietly(monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "funnel", interrupt)
    result = CliRunner().invoke(cli, ["funnel", source, "--steps", "visit"])
    assert result.exit_code == 130 and "Traceback" not in result.output


def _translate(error: Exception, **where: str) -> HourglassError:
    from hourglass.engine.errors import translated

    with pytest.raises(HourglassError) as err, translated("ev.csv", **where):
        raise error
    return err.value


def test_a_lock_held_by_another_process_is_not_a_damaged_file() -> None:
    import duckdb

    text = (
        'IO Error: Could not set lock on file "/d/shop.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 894). See also https://duckdb.org/docs/stable/connect/concurrency"
    )
    e = _translate(duckdb.IOException(text))
    assert e.code == "HG426"
    assert e.message.startswith("/d/shop.duckdb is locked by another process (PID 894, /usr/bin/python3.11)")
    assert "complete" not in (e.hint or "")


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("IOException", 'IO Error: Could not write file "/d/.s.duckdb.12.tmp": No space left on device'),
        (
            "TransactionException",
            'TransactionContext Error: Failed to commit: Could not write file "/d/.s.duckdb.12.tmp.wal": '
            "File too large",
        ),
        ("IOException", 'IO Error: Cannot open file "/d/.s.duckdb.12.tmp": Read-only file system'),
    ],
)
def test_a_failed_write_blames_the_target_not_the_source(kind: str, text: str) -> None:
    import duckdb

    e = _translate(getattr(duckdb, kind)(text), target="/d/s.duckdb", option="--into")
    assert e.code == "HG425"
    assert e.message.startswith("cannot write /d/s.duckdb (--into): ")
    assert "ev.csv" not in e.message


def test_a_full_disk_while_reading_names_the_file_written() -> None:
    import duckdb

    text = 'IO Error: Could not write file "/tmp/spill/duckdb_temp_block-1.block": No space left on device'
    e = _translate(duckdb.IOException(text))
    assert e.code == "HG425"
    assert e.message == "cannot write /tmp/spill/duckdb_temp_block-1.block: No space left on device"
    assert "free space" in (e.hint or "")


def test_a_postgres_server_that_goes_away_is_hg506() -> None:
    psycopg = pytest.importorskip("psycopg")
    text = "consuming input failed: server closed the connection unexpectedly"
    e = _translate(psycopg.OperationalError(text))
    assert e.code == "HG506" and e.message == f"the engine's server stopped answering: {text}"
    admin = _translate(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert admin.code == "HG506"


def test_a_postgres_table_the_user_may_not_read_is_hg205() -> None:
    psycopg = pytest.importorskip("psycopg")
    e = _translate(psycopg.errors.InsufficientPrivilege("permission denied for table events"))
    assert e.code == "HG205" and "permission denied for table events" in e.message
    assert "GRANT SELECT" in (e.hint or "")
