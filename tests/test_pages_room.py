"""engine/_pages.py ``huge_room``: the free memory in whole huge-page blocks, from /proc/buddyinfo."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass.engine import _pages

INFO = """Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3
Node 0, zone    DMA32    349    257    213    176    142    127     97     83     79     63    637
Node 0, zone   Normal      2    546    311    136     54    578   1868   1943    474     49      4
"""
# order 9 blocks are 2 MiB, order 10 4 MiB: DMA 1x2 + 3x4, DMA32 63x2 + 637x4, Normal 49x2 + 4x4
FREE_MIB = (2 + 12) + (126 + 2548) + (98 + 16)


@pytest.fixture
def info(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "buddyinfo"
    monkeypatch.setattr(_pages, "BUDDYINFO", path)
    monkeypatch.setattr(_pages, "PAGE_BYTES", 4096)
    monkeypatch.setattr(_pages, "HUGE_BYTES_FILE", tmp_path / "absent")  # 2 MB
    return path


def test_the_blocks_of_a_huge_page_or_more_are_summed(info: Path) -> None:
    info.write_text(INFO)
    mib = 1 << 20
    assert _pages.huge_room(FREE_MIB * mib)
    assert not _pages.huge_room(FREE_MIB * mib + 1)
    assert _pages.huge_room(0)


def test_smaller_blocks_do_not_count(info: Path) -> None:
    info.write_text("Node 0, zone   Normal " + " 9999" * 9 + " 0 0\n")
    assert not _pages.huge_room(1)


def test_no_file_means_no_pages_to_compact(info: Path) -> None:
    assert not info.exists()
    assert _pages.huge_room(1 << 40)


def test_this_machine_reads() -> None:
    assert isinstance(_pages.huge_room(1), bool)


def test_the_huge_page_size_is_read(info: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info.write_text(INFO)
    size = tmp_path / "hpage_pmd_size"
    size.write_text(f"{4 << 20}\n")  # 4 MB huge pages: only the order-10 blocks count
    monkeypatch.setattr(_pages, "HUGE_BYTES_FILE", size)
    assert _pages.huge_room((3 + 637 + 4) * (4 << 20))
    assert not _pages.huge_room((3 + 637 + 4) * (4 << 20) + 1)
