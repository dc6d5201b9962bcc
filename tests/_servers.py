"""Real servers for the engine tests, started on loopback for one test run: PostgreSQL from the
machine's packages (``.ci/run`` installs them; run as the ``postgres`` user when the suite runs as
root, initdb refuses root) and a Spark standalone cluster (a master and one worker) from the
installed pyspark."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "postgres_server", "spark_cluster", "spark_env"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server with an empty database ``hourglass``; yields its URL
    (``postgres://hg@127.0.0.1:PORT/hourglass``, trust authentication, loopback only)."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="hg-pg-"))
    base.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    data, log = base / "data", base / "server.log"
    port = free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "hg", "--auth=trust", "-E", "UTF8", "--no-locale")
        options = (
            f"-p {port} -k {base} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "hg", "hourglass")
            yield f"postgres://hg@127.0.0.1:{port}/hourglass"
        finally:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
    except subprocess.CalledProcessError as e:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {e.stderr.decode(errors='replace')}\n{tail}") from e
    finally:
        shutil.rmtree(base, ignore_errors=True)


def spark_env(home: str | None = None) -> dict[str, str]:
    """The environment of a Spark process on loopback: SPARK_HOME the pyspark package, this
    Python for the executors' Python workers, small daemon heaps."""
    if home is None:
        import pyspark

        home = os.path.dirname(pyspark.__file__)
    return {
        **os.environ,
        "SPARK_HOME": home,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    }


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"the Spark {what} did not start ({text!r} not in its log):\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def spark_cluster(cores: int = 1, memory: str = "1g") -> Iterator[str]:
    """A Spark standalone master and one worker (``cores``, ``memory``) on 127.0.0.1, from the
    installed pyspark (``spark-class ...deploy.master.Master`` / ``...deploy.worker.Worker``); yields
    the master's URL once the worker has registered, and stops both at the end."""
    env = spark_env()
    spark_class = str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")
    base = Path(tempfile.mkdtemp(prefix="hg-spark-"))
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = base / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [spark_class, *args],
                env=env,
                cwd=base,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        procs.append(proc)
        return proc, log

    try:
        master, master_log = start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            "0",
        )
        worker, worker_log = start(  # at once: the worker retries until the master listens
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--host",
            "127.0.0.1",
            "--cores",
            str(cores),
            "--memory",
            memory,
            "--webui-port",
            "0",
            "--work-dir",
            str(base / "work"),
        )
        _wait_for(master_log, "I have been elected leader", master, "master", 90)
        _wait_for(worker_log, "Successfully registered with master", worker, "worker", 90)
        yield url
    finally:
        for proc in reversed(procs):  # the worker first: it stops its executors
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)
