"""The collector's write keys (docs/collector.md, "Keys"): keys.json holds only hashes; a key is
printed once; revoking is seen by a running collector at once; concurrent creates lose nothing;
the commands' coded errors (HG460-HG466); `hourglass collect` serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hourglass.interfaces.cli.collect import collect_cmd
from hourglass.interfaces.cli.keys import keys_cmd
from hourglass.interfaces.dashboard.server import free_port
from hourglass.interfaces.server.keys import KeyStore
from hourglass.interfaces.server.limits import RateLimiter, parse_rate
from hourglass.model.errors import HourglassError


def test_keys_json_holds_hashes_only_and_revoking_is_seen_at_once(tmp_path: Path) -> None:
    writer, server = KeyStore(tmp_path), KeyStore(tmp_path)  # the CLI's and the running collector's
    key, record = writer.create("shop", "web")
    assert key.startswith("hgk_") and len(key) >= 4 + 43
    text = (tmp_path / "keys.json").read_text()
    assert key not in text and record.sha256 in text
    assert (tmp_path / "collector.json").is_file()
    found = server.lookup(key)
    assert found is not None and found.project == "shop"
    assert server.lookup(key + "x") is None
    writer.revoke(record.id)
    assert server.lookup(key) is None  # no restart, no delay
    assert writer.revoke(key).revoked == writer.records()[0].revoked  # by the key itself; once


def test_concurrent_creates_lose_no_key(tmp_path: Path) -> None:
    made: list[str] = []

    def create(i: int) -> None:
        made.append(KeyStore(tmp_path).create(f"p{i % 3}")[0])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = KeyStore(tmp_path)
    assert len(store.records()) == 12
    assert all(store.lookup(k) is not None for k in made)


def test_a_damaged_keys_file_keeps_the_running_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key, _ = store.create("shop")
    assert store.lookup(key) is not None
    (tmp_path / "keys.json").write_text("{oops")
    assert store.lookup(key) is not None  # a running collector keeps the keys last read
    with pytest.raises(HourglassError) as info:
        KeyStore(tmp_path).records()
    assert info.value.code == "HG463"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["create", "--project", "a b"], "HG460"),
        (["create", "--project", "../x"], "HG460"),
        (["revoke", "k_0000000000"], "HG462"),
    ],
)
def test_keys_errors(tmp_path: Path, args: list[str], code: str) -> None:
    result = CliRunner().invoke(keys_cmd, [args[0], "--data", str(tmp_path / "d"), *args[1:]])
    assert result.exit_code == 2 and f"[{code}]" in result.output, result.output
    assert not (tmp_path / "d").exists()  # a refused command makes no directory


def test_keys_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    created = CliRunner().invoke(keys_cmd, ["create", "--data", data, "--project", "shop", "--name", "web"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("hgk_") and "\n" not in key
    listed = CliRunner().invoke(keys_cmd, ["list", "--data", data, "--format", "json"])
    (row,) = json.loads(listed.stdout)
    assert (row["project"], row["name"], row["revoked"]) == ("shop", "web", None) and "sha256" not in row
    assert CliRunner().invoke(keys_cmd, ["revoke", "--data", data, row["id"]]).exit_code == 0
    assert json.loads(CliRunner().invoke(keys_cmd, ["list", "--data", data, "--format", "json"]).stdout)[0][
        "revoked"
    ]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--rate", "fast"], "HG464"),
        (["--rate", "500"], "HG464"),
        (["--id", "a/b"], "HG466"),
        (["--compact-every", "30"], "HG107"),
        (["--host", "203.0.113.1"], "HG465"),  # an address of no interface here
    ],
)
def test_collect_errors(tmp_path: Path, args: list[str], code: str) -> None:
    result = CliRunner().invoke(
        collect_cmd, ["--data", str(tmp_path / "d"), "--port", str(free_port()), *args]
    )
    assert result.exit_code == 2 and f"[{code}]" in result.output, result.output
    afile = tmp_path / "f.csv"
    afile.write_text("x\n")
    result = CliRunner().invoke(collect_cmd, ["--data", str(afile)])
    assert result.exit_code == 2 and "[HG461]" in result.output


def test_rates() -> None:
    assert (parse_rate("500/s"), parse_rate("60000/m"), parse_rate("0")) == (500.0, 1000.0, 0.0)
    now = [0.0]
    bucket = RateLimiter(10, 2.0, clock=lambda: now[0])
    assert bucket.take("k", 20) is None  # the burst: 2 s worth
    assert bucket.take("k", 1) == 1.0
    assert bucket.take("other", 5) is None  # per key
    now[0] = 0.5
    assert bucket.take("k", 5) is None
    assert bucket.take("k", 500) is not None  # larger than the burst: waits for a full bucket


def test_collect_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "d"
    key, _ = KeyStore(data).create("shop")
    port = free_port()
    code = "from hourglass.interfaces.cli.collect import collect_cmd; collect_cmd()"
    args = [sys.executable, "-c", code, "--data", str(data), "--port", str(port), "--id", "c1"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    proc.stderr.read() if proc.stderr else ""
                )
                time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/track", json={"writeKey": key, "event": "visit", "userId": "u1"}
        )
        assert answer.status_code == 200, answer.text
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "collector c1: http://127.0.0.1:" in err and "stopped: 1 events stored" in err
    assert (data / "stores" / "shop.duckdb").is_file()  # a last compaction on a clean stop
