"""Writes that fail (issue 19, items 8 and 12): a full disk, a file-size limit, a read-only
directory, a reader that has gone. Each is a coded error naming what could not be written (HG425),
never HG699, never blamed on the source; an output is written whole or not at all (no 0-byte or
half file, the old file left as it was)."""

from __future__ import annotations

import errno
import os
import pathlib
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hourglass.ingest.outputs import atomic_open, write_text_atomically
from hourglass.interfaces.cli import cli
from hourglass.model.errors import SourceError

HOURGLASS = str(Path(sys.executable).with_name("hourglass"))
FULL = Path("/dev/full")
needs_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full on this system")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """400 customers: a --by customer funnel of about 60 kB."""
    path = tmp_path_factory.mktemp("faults") / "ev.csv"
    rows = [f"c{i},visit,2024-01-01 10:00\nc{i},signup,2024-01-02 10:00" for i in range(400)]
    path.write_text("customer_id,event,timestamp\n" + "\n".join(rows) + "\n")
    return str(path)


def _limited(max_bytes: int) -> None:
    """In the child: files may grow to ``max_bytes`` (a disk that fills up, without root)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def _err(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr and "HG699" not in run.stderr, run.stderr
    return " ".join(run.stderr.split())


@needs_full
@pytest.mark.parametrize("fmt", ["table"])
def test_standard_output_on_a_full_disk(log: str, fmt: str) -> None:
    with FULL.open("w") as full:
        run = subprocess.run(
            [HOURGLASS, "funnel", log, "--steps", "visit,signup", "--format", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert run.returncode == 2
    assert "[HG425] cannot write standard output: No space left on device" in _err(run)


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_reader_that_has_gone_stops_quietly(log: str, fmt: str) -> None:
    # `hourglass ... | head` once head has exited: no traceback, no error, status 141 (as SIGPIPE)
    read, write = os.pipe()
    os.close(read)
    try:
        run = subprocess.run(
            [HOURGLASS, "funnel", log, "--steps", "visit,signup", "--by", "customer", "--format", fmt],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write)
    assert run.stderr == ""
    assert run.returncode in (0, 141)


@needs_full
def test_out_to_a_device_is_written_there_not_replaced(log: str) -> None:
    result = CliRunner().invoke(cli, ["funnel", log, "--steps", "visit", "--out", str(FULL)])
    assert result.exit_code == 2
    err = " ".join(result.stderr.split())
    assert "[HG425] cannot write /dev/full (--out): No space left on device" in err
    assert stat.S_ISCHR(FULL.stat().st_mode)


def test_out_on_a_full_disk_leaves_the_old_file(log: str, tmp_path: Path) -> None:
    out = tmp_path / "funnel.json"
    out.write_text("the old result\n")
    run = subprocess.run(
        [HOURGLASS, "funnel", log, "--steps", "visit,signup", "--by", "customer", "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _limited(20_000),
    )
    assert run.returncode == 2
    assert f"[HG425] cannot write {out} (--out): File too large" in _err(run)
    assert out.read_text() == "the old result\n"  # not truncated, not half-written
    assert {p.name for p in tmp_path.iterdir()} == {"funnel.json"}


def test_ingest_on_a_full_disk_blames_the_store(log: str, tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    run = subprocess.run(
        [HOURGLASS, "ingest", log, "--into", str(store)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _limited(100_000),
    )
    err = _err(run)
    assert run.returncode == 2
    assert f"[HG425] cannot write {store} (--into): File too large" in err
    assert log not in err and "complete" not in err
    assert list(tmp_path.iterdir()) == []  # no store, no temporary, no .wal, no lock


def test_ingest_into_a_read_only_directory(log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ro" / "s.duckdb"
    mkdir = pathlib.Path.mkdir

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        if self == target.parent:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    result = CliRunner().invoke(cli, ["ingest", log, "--into", str(target)])
    err = " ".join(result.stderr.split())
    assert result.exit_code == 2, err
    assert f"[HG425] cannot write {target} (--into): Read-only file system" in err
    assert "hint: the file system is read-only" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes a directory without write permission")
def test_ingest_into_a_directory_without_permission(log: str, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = CliRunner().invoke(cli, ["ingest", log, "--into", str(locked / "s.duckdb")])
    assert result.exit_code == 2
    assert "[HG425]" in result.stderr and "Permission denied" in result.stderr


def test_atomic_open_leaves_the_old_file_on_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    path.chmod(0o640)
    with pytest.raises(ZeroDivisionError), atomic_open(path) as fh:
        fh.write("half")
        _ = 1 / 0
    assert path.read_text() == "old\n"
    write_text_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its mode
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_open_replaces_a_links_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with atomic_open(link, "wb") as fh:
        fh.write(b"new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_atomic_open_names_the_file_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err, atomic_open(tmp_path / "no" / "out.txt", option="--out"):
        pass
    assert err.value.code == "HG425"
    assert str(tmp_path / "no" / "out.txt") + " (--out): No such file or directory" in err.value.message


def test_a_coded_error_inside_atomic_open_is_not_wrapped_again(tmp_path: Path) -> None:
    # SourceError is an OSError: it must pass unchanged, not as "cannot write X: [HG...] ..."
    with pytest.raises(SourceError) as err, atomic_open(tmp_path / "out.txt"):
        raise SourceError("the inner error", code="HG424", hint="what to do")
    assert err.value.code == "HG424" and err.value.message == "the inner error"
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_elsewhere_is_not_blamed_on_standard_output(
    log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces import api

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # a file's write: no file name

    monkeypatch.setattr(api, "funnel", full)
    result = CliRunner().invoke(cli, ["funnel", log, "--steps", "visit"])
    err = " ".join(result.stderr.split())
    assert result.exit_code == 2, err
    assert "[HG425] cannot write a file: No space left on device" in err
    assert "standard output" not in err and "HG699" not in err


def test_a_killed_writes_temporary_is_removed_by_the_next_write(tmp_path: Path) -> None:
    dead = tmp_path / ".out.txt.999999999.0a1b.tmp"  # no such process (above any pid_max)
    live = tmp_path / f".out.txt.{os.getppid()}.0a1b.tmp"  # a write in progress: not ours to remove
    other = tmp_path / ".other.txt.999999999.0a1b.tmp"  # another file's
    for path in (dead, live, other):
        path.write_text("half")
    write_text_atomically(tmp_path / "out.txt", "whole\n")
    assert {p.name for p in tmp_path.iterdir()} == {"out.txt", live.name, other.name}


def test_a_broken_pipe_that_is_not_standard_output_is_not_silenced(
    log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hourglass.interfaces import api

    def server_gone(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")  # e.g. a database server's socket

    monkeypatch.setattr(api, "funnel", server_gone)
    result = CliRunner().invoke(cli, ["funnel", log, "--steps", "visit"], env={"HOURGLASS_DEBUG": None})
    assert result.exit_code == 3 and "BrokenPipeError" in result.stderr
