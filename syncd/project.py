"""A project: the config, its mappings (in dependency order) and code lists, parsed and validated once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.config import Config, find_config, load_config
from syncd.errors import ConfigError, Problem
from syncd.mapping import CodeList, TableMapping, load_code_lists, load_mappings


@dataclass(frozen=True)
class Project:
    """Config, mappings (in dependency order) and code lists, parsed and validated once."""

    config: Config
    mappings: tuple[TableMapping, ...]
    codes: dict[str, CodeList]

    def mapping(self, name: str) -> TableMapping:
        for m in self.mappings:
            if m.name == name:
                return m
        raise ConfigError([Problem(str(self.config.mappings), None, "-m", f"no mapping named {name!r}")])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.defaults.timezone)


def open_project(config_path: str | Path | None = None, *, only: Sequence[str] = ()) -> Project:
    """Find, parse and validate the config and every mapping; one ConfigError lists all problems."""
    config = load_config(find_config(config_path))
    try:
        ZoneInfo(config.defaults.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([Problem(str(config.path), None, "defaults.timezone",
                                   f"unknown time zone {config.defaults.timezone!r}; "
                                   "write e.g. Asia/Shanghai")]) from None
    mappings = load_mappings(config, only=tuple(only))
    return Project(config, mappings, load_code_lists(config))
