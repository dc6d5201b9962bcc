"""Ibis's SQL compilers, imported one by one as they are used.

``ibis.backends.sql.compilers`` imports the compilers of all twenty SQL dialects when any one is
needed (its ``__init__`` imports them for their names): loading the DuckDB backend pays ~70 ms for
Athena, Trino, BigQuery and the rest, a tenth of a small command's time (issue 11, bench/cli.py).
Importing this module (the engine's package does, first) runs :func:`install`: it puts a package in
that one's place that imports a compiler's module on first use, with the same names (``sc.duckdb``,
``sc.clickhouse.compiler``, ``sc.DuckDBCompiler``) and the same modules. It does nothing when the
package was already imported, or when Ibis's layout is not the one it knows (then the package is
imported as usual)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

__all__ = ["install"]

PACKAGE = "ibis.backends.sql.compilers"


def _getattr(name: str) -> Any:
    """A compiler module (``duckdb``) or class (``DuckDBCompiler``, from module ``duckdb``)."""
    if name.startswith("__"):
        raise AttributeError(name)
    module = name.removesuffix("Compiler").lower() if name.endswith("Compiler") else name
    full = f"{PACKAGE}.{module}"
    try:
        loaded = importlib.import_module(full)
    except ModuleNotFoundError as e:
        if e.name != full:  # a compiler whose own dependency is missing: say so
            raise
        raise AttributeError(f"module '{PACKAGE}' has no attribute '{name}'") from None
    return getattr(loaded, name) if module != name else loaded


def install() -> None:
    """Replace ``ibis.backends.sql.compilers`` by its lazy version (before the backend is loaded)."""
    if PACKAGE in sys.modules:
        return
    import ibis.backends.sql as parent

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations or spec.origin is None:
        return
    # (find_spec of a submodule would import the package itself: look for the file)
    if not any(os.path.isfile(os.path.join(p, "duckdb.py")) for p in spec.submodule_search_locations):
        return
    package = types.ModuleType(PACKAGE, "Ibis's SQL compilers, imported as they are used (hourglass)")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__package__ = PACKAGE
    package.__spec__ = spec
    setattr(package, "__getattr__", _getattr)  # noqa: B010 - a module's __getattr__ (PEP 562)
    sys.modules[PACKAGE] = package
    setattr(parent, "compilers", package)  # noqa: B010 - as the import system would


install()  # on import: the engine imports this module before any Ibis backend
