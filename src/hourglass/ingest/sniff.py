"""What a file holds by its first bytes, whatever its name says (a Parquet file named .csv, a DuckDB
database or an Excel workbook under a CSV name)."""

from __future__ import annotations

from hourglass.model.errors import SourceError

__all__ = ["by_content"]


def _content(path: str) -> str | None:
    """What the first bytes of ``path`` say it holds: ``parquet``, ``duckdb``, ``zip`` (an Excel
    workbook is one), ``gzip``, ``jsonl`` (text whose first character is ``{`` or ``[``), ``csv`` (other
    text); None for an empty or unreadable file (its reader reports it)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:4] == b"PAR1":
        return "parquet"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        return None
    return "jsonl" if text[:1] in (b"{", b"[") else "csv"


_WHAT = {
    "parquet": "a Parquet file",
    "csv": "CSV text",
    "jsonl": "JSON lines",
    "duckdb": "a DuckDB database",
    "zip": "a ZIP archive (an Excel workbook is one)",
}


#: How many files of a glob have their first bytes read (a glob of thousands stays fast to open).
_SNIFFED_FILES = 64


def by_content(kind: str, paths: tuple[str, ...], name: str) -> str:
    """The kind the files' bytes say, where their names say another: a Parquet file named .csv is
    read as Parquet, CSV text named .parquet as CSV (DuckDB's readers trust the name and fail with a
    confusing error). A database or an archive under a file name, or files of a glob with different
    contents, are an error (HG208) naming what the file holds."""
    found: dict[str, str] = {}  # content -> first file
    for path in paths[:_SNIFFED_FILES]:
        content = _content(path)
        if content is None or content == "gzip":  # nothing to read, or the reader sees through it
            content = kind
        found.setdefault(content, path)
    if len(found) > 1:
        (a, fa), (b, fb) = list(found.items())[:2]
        raise SourceError(
            f"{name}: the files hold different formats: {fa} is {_WHAT.get(a, a)}, {fb} is {_WHAT.get(b, b)}",
            code="HG208",
            hint="give one format per source (a glob such as '*.parquet' that matches only one kind)",
        )
    content = next(iter(found), kind)
    if content in ("duckdb", "zip"):
        path = found[content]
        fix = (
            "name it .duckdb (shop.duckdb or shop.duckdb:TABLE)"
            if content == "duckdb"
            else "export the sheet as CSV (File > Save as > CSV UTF-8) or Parquet"
        )
        raise SourceError(
            f"{path}: the file is {_WHAT[content]}, not {_WHAT.get(kind, kind)} as its name says",
            code="HG208",
            hint=fix,
        )
    return content
