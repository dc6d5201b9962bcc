"""Write keys (docs/collector.md, "Keys"): ``DIR/keys.json`` holds per key only its SHA-256, its
project, its name, when it was created and when it was revoked. Writes are atomic (a temporary file
renamed into place, under a lock so two ``keys create`` never lose one another's key); a running
collector re-reads the file when it changes, so a revoked key is refused from the next request on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hourglass.ingest.outputs import cannot_write
from hourglass.model.errors import ConfigError, SourceError, SpecError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["KEYS_FILE", "PROJECT_RE", "KeyRecord", "KeyStore", "check_data_dir", "key_hash"]

KEYS_FILE = "keys.json"
PREFIX = "hgk_"
#: a project names a directory and a store file: letters, digits, ``_`` and ``-``
PROJECT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_data_dir(data_dir: Path) -> None:
    """``--data DIR``: a directory (or nothing yet: it is created); a file is HG461."""
    if Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise SourceError(
            f"--data {data_dir} is a file, not a collector's data directory",
            code="HG461",
            hint="give a directory (it is created if missing): hourglass collect --data collector/",
        )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    id: str
    sha256: str
    project: str
    name: str
    created: str
    revoked: str | None = None


class KeyStore:
    """The keys of one data directory. :meth:`lookup` is the hot path: a ``stat`` of keys.json, and a
    re-read only when its size, mtime or inode changed."""

    def __init__(self, data_dir: Path) -> None:
        check_data_dir(data_dir)
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / KEYS_FILE
        self._stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, KeyRecord] = {}

    # -- reading ---------------------------------------------------------------------------------

    def _read(self) -> list[KeyRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ConfigError(
                f"{self.path} cannot be read: {e.strerror or e}",
                code="HG463",
                hint="check the file's permissions (the collector's user must read it)",
            ) from e
        try:
            data = json.loads(text)
            return [KeyRecord(**item) for item in data["keys"]]
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"{self.path} is not a keys file hourglass wrote: {e}",
                code="HG463",
                hint="restore it from a backup, or move it away and create the keys again "
                "(hourglass keys create --data DIR --project P)",
            ) from e

    def records(self) -> list[KeyRecord]:
        return self._read()

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._by_hash = None, {}
            return
        except OSError:
            return  # unreadable for a moment: the keys last read
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        try:
            records = self._read()
        except ConfigError:
            return  # keep the keys last read: a running collector never stops on a bad edit
        self._by_hash = {r.sha256: r for r in records}
        self._stamp = stamp

    def lookup(self, key: str) -> KeyRecord | None:
        """The key's record when it is valid (known and not revoked), else None."""
        self._refresh()
        record = self._by_hash.get(key_hash(key))
        return record if record is not None and record.revoked is None else None

    # -- writing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from hourglass.interfaces.server.dataset import init_data_dir

        lock = self.data_dir / ".keys.lock"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise cannot_write(lock, e, "--data") from e
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            init_data_dir(self.data_dir)  # under the lock: two creates never race on the marker
            yield
        finally:
            os.close(fd)

    def _write(self, records: list[KeyRecord]) -> None:
        tmp = self.path.with_name(f".{KEYS_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        text = json.dumps({"version": 1, "keys": [asdict(r) for r in records]}, indent=1) + "\n"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.data_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise cannot_write(self.path, e, "--data") from e

    def create(self, project: str, name: str = "") -> tuple[str, KeyRecord]:
        """A new key of ``project``: ``(the key, its record)``; the key itself is never stored."""
        if not PROJECT_RE.fullmatch(project):
            raise SpecError(
                f"invalid project name {project!r}",
                code="HG460",
                hint="a project is 1 to 64 letters, digits, '_' or '-', starting with a letter or digit "
                "(it names a directory and a store file)",
            )
        key = PREFIX + secrets.token_urlsafe(32)
        digest = key_hash(key)
        with self._locked():
            records = self._read()
            record = KeyRecord(
                id=f"k_{digest[:10]}",
                sha256=digest,
                project=project,
                name=name,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._write([*records, record])
        return key, record

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke by id (``k_...``) or by the key itself; revoking twice keeps the first time."""
        wanted = key_hash(key_id) if key_id.startswith(PREFIX) else None
        records: list[KeyRecord] = []
        if not self.path.exists():  # nothing to revoke: no directory made for it
            return self._unknown(key_id, records)
        with self._locked():
            records = self._read()
            for i, r in enumerate(records):
                if r.id == key_id or r.sha256 == wanted:
                    if r.revoked is None:
                        records[i] = r = KeyRecord(
                            **{**asdict(r), "revoked": datetime.now(UTC).isoformat(timespec="seconds")}
                        )
                        self._write(records)
                    return r
        return self._unknown(key_id, records)

    def _unknown(self, key_id: str, records: list[KeyRecord]) -> KeyRecord:
        known = ", ".join(r.id for r in records[:10]) or "none"
        raise SpecError(
            f"no key {key_id!r} in {self.path}",
            code="HG462",
            hint=f"name a key by its id (hourglass keys list --data DIR): {known}",
        )

    def as_rows(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(r).items() if k != "sha256"} for r in self._read()]
