"""Reading hourglass.toml and journey model files (YAML or TOML)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass.model._suggest import check_keys
from hourglass.model.errors import ConfigError, HourglassError
from hourglass.model.journey import JourneyModel
from hourglass.model.lifecycle import AfterSaleSpec
from hourglass.model.presets import PRESETS, preset
from hourglass.model.schema import ColumnMapping

__all__ = ["Config", "load_config", "load_model", "read_mapping_file"]

CONFIG_NAME = "hourglass.toml"


def _loader(path: Path) -> Any:
    """A safe YAML loader that refuses aliases (``*name``): nested aliases expand exponentially
    ("billion laughs": a 400-byte file, gigabytes of memory), and no setting needs one."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                mark = event.start_mark
                raise ConfigError(
                    f"{path}, line {mark.line + 1}: YAML alias '*{event.anchor}' is not allowed",
                    code="HG112",
                    hint="write the value out in full where it is used (anchors and aliases are refused: "
                    "they can expand a small file into gigabytes)",
                )
            return super().compose_node(parent, index)

    return NoAliases


def read_mapping_file(path: Path) -> Mapping[str, Any]:
    """A YAML or TOML file as a mapping, with a clear error naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot read ({e.strerror})",
            code="HG111",
            hint="check the path and that the file can be read",
        ) from None
    import yaml  # here, not at import: a command that reads no YAML does not pay for it

    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.load(text, _loader(path))
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ConfigError(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {e}",
            code="HG112",
            hint="fix the syntax at the place named above",
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: expected a mapping at the top level",
            code="HG112",
            hint="the file must be a table of settings (key: value lines), not a list or a single value",
        )
    return data


@dataclass(frozen=True)
class Config:
    """``hourglass.toml``: ``[columns]`` (role = "column", time_unit), ``[models]`` (name = path),
    ``[lifecycle]`` (the after-sale events: remorse_events = ["refund"], ...) and ``[engine]`` (name =
    "spark://HOST:PORT", and ``[engine.spark]``: "spark.sql.shuffle.partitions" = 200, ...)."""

    columns: ColumnMapping = field(default_factory=ColumnMapping)
    models: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None
    lifecycle: Mapping[str, Any] = field(default_factory=dict)
    #: ``[engine] name``: where analyses run when no --engine is given (docs/engines.md)
    engine: str | None = None
    #: ``[engine.spark]``: Spark settings (``spark.*`` keys) over the built-in defaults
    spark_conf: Mapping[str, str] = field(default_factory=dict)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _table(
    data: Mapping[str, Any], key: str, path: Path, example: str, label: str | None = None
) -> dict[str, Any]:
    """The table ``[key]`` of a config file (empty when absent); HG113 when it is another type.
    ``label``: the table's full name (``engine.spark``)."""
    value = data.get(key, {})
    label = label or key
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{path}: '{label}' must be a table of settings, not {_type_name(value)}",
            code="HG113",
            hint=f"write [{label}] on its own line, then key = value lines under it (e.g. {example})",
        )
    return dict(value)


def _text_values(table: Mapping[str, Any], section: str, path: Path, what: str) -> None:
    """Every value of ``[section]`` is text (HG113 naming the file and the key)."""
    for key, value in table.items():
        if not isinstance(value, str):
            expected = '"s", "ms" or "us"' if key == "time_unit" else what
            raise ConfigError(
                f"{path} [{section}] {key}: expected {expected}, not {_type_name(value)}",
                code="HG113",
                hint=f'write it as {key} = "..."',
            )


#: the keys of ``[engine]``
ENGINE_KEYS = ("name", "spark")


def _engine(data: Mapping[str, Any], path: Path) -> tuple[str | None, dict[str, str]]:
    """``[engine]``: its ``name`` (text) and its ``[engine.spark]`` settings (``spark.*`` keys; numbers
    and true/false become Spark's text)."""
    table = _table(data, "engine", path, 'name = "spark://127.0.0.1:7077"')
    check_keys(table, ENGINE_KEYS, where=f"{path} [engine]")
    name = table.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(
            f"{path} [engine] name: expected an engine name in quotes, not {_type_name(name)}",
            code="HG113",
            hint='write it as name = "duckdb" (or "spark", "spark://HOST:PORT", "postgres://...": '
            "docs/engines.md)",
        )
    spark = _table(table, "spark", path, '"spark.sql.shuffle.partitions" = 200', "engine.spark")
    conf: dict[str, str] = {}
    for key, value in spark.items():
        if not str(key).startswith("spark."):
            raise ConfigError(
                f"{path} [engine.spark] {key}: not a Spark setting (they start with 'spark.')",
                code="HG113",
                hint='write Spark\'s own key in quotes, e.g. "spark.executor.memory" = "4g"',
            )
        if isinstance(value, bool):
            conf[str(key)] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            conf[str(key)] = str(value)
        else:
            raise ConfigError(
                f"{path} [engine.spark] {key}: expected text, a number or true/false, "
                f"not {_type_name(value)}",
                code="HG113",
                hint=f'write it as "{key}" = "..." (a list of packages is one text: "a:b:1,c:d:2")',
            )
    return name, conf


def load_config(path: str | Path | None = None) -> Config:
    """``path``, or ./hourglass.toml if it exists, or the defaults."""
    p = Path(path) if path else Path(CONFIG_NAME)
    if not p.exists():
        if path:
            raise ConfigError(
                f"{p}: no such config file", code="HG111", hint="check the path given to --config"
            )
        return Config()
    data = read_mapping_file(p)
    check_keys(data, ("columns", "models", "lifecycle", "engine"), where=str(p))
    columns_table = _table(data, "columns", p, 'customer = "user_id"')
    models_table = _table(data, "models", p, 'my_shop = "models/my_shop.yaml"')
    lifecycle = _table(data, "lifecycle", p, 'remorse_events = ["refund"]')
    try:
        AfterSaleSpec.build(lifecycle)  # a bad duration, key or list names the file, for every command
    except HourglassError as e:
        raise ConfigError(f"{p} [lifecycle] {e.message}", code=e.code, hint=e.hint) from None
    _text_values(columns_table, "columns", p, "a column name in quotes")
    _text_values(models_table, "models", p, "a model file's path in quotes")
    try:
        columns = ColumnMapping.from_dict(columns_table)
    except HourglassError as e:
        raise ConfigError(f"{p} [columns]: {e.message}", code=e.code, hint=e.hint) from None
    models = {str(k): str(v) for k, v in models_table.items()}
    engine, spark_conf = _engine(data, p)
    return Config(
        columns=columns,
        models=models,
        path=str(p),
        lifecycle=dict(lifecycle),
        engine=engine,
        spark_conf=spark_conf,
    )


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the system cannot look up (too long, a NUL byte)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def load_model(name_or_path: str, config: Config | None = None) -> JourneyModel:
    """A built-in preset by name, a model named in the config, or a model file."""
    if config and name_or_path in config.models:
        name_or_path = config.models[name_or_path]
    p = Path(name_or_path)
    is_file_name = p.suffix.lower() in (".yaml", ".yml", ".toml")
    if not is_file_name and name_or_path in PRESETS:
        return PRESETS[name_or_path]  # a built-in wins over a same-named directory or file
    if is_file_name or _is_file(p):
        if not _is_file(p):
            raise ConfigError(
                f"{p}: no such model file",
                code="HG111",
                hint="check the path, or name a built-in model (hourglass models)",
            )
        try:
            return JourneyModel.from_dict(read_mapping_file(p), source=str(p))
        except ConfigError:
            raise
        except HourglassError as e:
            raise ConfigError(f"{p}: {e.message}", code=e.code, hint=e.hint) from None
    return preset(name_or_path)
