"""``hourglass serve``: every analysis as an interactive page (FastAPI, Jinja2 templates, our own
small fragment-swapping script and plotly.js from the installed package; docs/dashboard.md)."""

from .app import create_app
from .data import DashboardSource, ResultCache, load_source

__all__ = ["DashboardSource", "ResultCache", "create_app", "load_source"]
