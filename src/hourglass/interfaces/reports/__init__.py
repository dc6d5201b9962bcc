"""HTML reports: one self-contained, offline page comparing journey models."""

from .html import render_report, write_report

__all__ = ["render_report", "write_report"]
