"""`lifecycle --customers` is written whole or not at all (issue 19 item 8): a file-size limit (a disk
that fills up) is HG425 naming the file, and the old file is left as it was, with no temporary behind."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

HOURGLASS = str(Path(sys.executable).with_name("hourglass"))


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_customers_file_on_a_full_disk_keeps_the_old_file(demo_parquet: Path, tmp_path: Path) -> None:
    out = tmp_path / "stages.csv"
    out.write_text("the old file\n", encoding="utf-8")
    run = subprocess.run(
        [HOURGLASS, "lifecycle", str(demo_parquet), "--customers", str(out), "--format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limited,  # the child only sets its own limit
        cwd=tmp_path,
    )
    err = " ".join(run.stderr.split())
    assert run.returncode == 2, err
    assert "HG425" in err and "stages.csv" in err and "HG699" not in err
    assert out.read_text(encoding="utf-8") == "the old file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["stages.csv"]
