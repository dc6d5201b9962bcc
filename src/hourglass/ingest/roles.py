"""Column roles: which column of a source is the customer, the event, the timestamp, ..."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hourglass.model._suggest import did_you_mean
from hourglass.model.errors import SchemaError
from hourglass.model.schema import COMMON_NAMES, OPTIONAL_ROLES, REQUIRED_ROLES, ROLES, ColumnMapping

__all__ = ["ResolvedRoles", "resolve_roles"]

_FLAG = {r: f"--{r.replace('_', '-')}-col" for r in ROLES}


@dataclass(frozen=True)
class ResolvedRoles:
    """Role -> source column (only roles present), the property columns and their output names."""

    columns: dict[str, str]
    properties: dict[str, str]  # output name -> source column
    time_unit: str = "s"

    def source_column(self, role: str) -> str | None:
        return self.columns.get(role)


def resolve_roles(names: Sequence[str], mapping: ColumnMapping, *, source: str) -> ResolvedRoles:
    """Map roles to ``names`` (a source's columns): explicit flags first, then common names."""
    lower = {n.lower(): n for n in names}
    columns: dict[str, str] = {}
    for role in ROLES:
        given = getattr(mapping, role)
        if given:
            if given not in names:
                match = lower.get(given.lower())
                if match is None:
                    raise SchemaError(
                        f"{source}: no column '{given}' for the {role} ({_FLAG[role]})"
                        f"{did_you_mean(given, names)}",
                        code="HG301",
                        hint="columns there: " + ", ".join(names),
                    )
                given = match
            taken = next((r for r, c in columns.items() if c == given), None)
            if taken is not None:
                raise SchemaError(
                    f"{source}: column '{given}' is given to the {role} ({_FLAG[role]}) but is already "
                    f"the {taken}",
                    code="HG309",
                    hint=f"one column plays one role; name the {taken} with {_FLAG[taken]} COLUMN if it "
                    "was recognised by name",
                )
            columns[role] = given
            continue
        if given == "":  # explicitly disabled optional role
            continue
        found = [lower[c] for c in COMMON_NAMES[role] if c in lower and lower[c] not in columns.values()]
        if role in REQUIRED_ROLES and not found:
            held = [
                (r, lower[c])
                for c in COMMON_NAMES[role]
                if c in lower
                for r, v in columns.items()
                if v == lower[c]
            ]
            why = "".join(f" ('{c}' is the {r} here, {_FLAG[r]})" for r, c in held)
            raise SchemaError(
                f"{source}: no {role} column{why}",
                code="HG302",
                hint=f"name it with {_FLAG[role]} COLUMN (recognised names: "
                f"{', '.join(COMMON_NAMES[role])}); columns there: {', '.join(names)}",
            )
        if len(found) > 1 and role in REQUIRED_ROLES:
            raise SchemaError(
                f"{source}: several columns could be the {role}: {', '.join(found)}",
                code="HG303",
                hint=f"choose one with {_FLAG[role]} COLUMN",
            )
        if found:
            columns[role] = found[0]
    used = set(columns.values())
    properties: dict[str, str] = {}
    for n in names:
        if n in used or n.startswith("__hg"):
            continue
        out = f"{n}_property" if n in ROLES else n
        properties[out] = n
    return ResolvedRoles(columns=columns, properties=properties, time_unit=mapping.time_unit)


def optional_roles_present(roles: ResolvedRoles) -> list[str]:
    return [r for r in OPTIONAL_ROLES if r in roles.columns]
