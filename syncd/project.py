"""A project: the config, its mappings (in dependency order) and code lists, parsed and validated once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url

from syncd import files
from syncd.config import Config, declared_language, find_config, load_config
from syncd.errors import ConfigError, Problem
from syncd.i18n import _
from syncd.mapping import CodeList, TableMapping, load_codes, load_mappings


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
        raise ConfigError([Problem(str(self.config.mappings), None, "-m", _("no mapping named "
                                                                            "{name!r}").format(name=name))])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.defaults.timezone)


def config_language(config_path: str | Path | None = None) -> str | None:
    """``lang:`` of the config file that :func:`open_project` would read, if it says one."""
    try:
        return declared_language(find_config(config_path))
    except ConfigError:
        return None


def open_project(config_path: str | Path | None = None, *, only: Sequence[str] = ()) -> Project:
    """Find, parse and validate the config and every mapping; one ConfigError lists all problems."""
    config = load_config(find_config(config_path))
    try:
        ZoneInfo(config.defaults.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([Problem(str(config.path), None, "defaults.timezone",
                                   _("unknown time zone "
                                     "{timezone!r}; write e.g. Asia/Shanghai")
                                   .format(timezone=config.defaults.timezone))]) from None
    codes = load_codes(config.codes_dir)       # parsed once, for the mappings and the project
    mappings = load_mappings(config, only=tuple(only), code_lists=codes)
    return Project(config, mappings, codes[0])


def secret_warnings(config: Config) -> list[str]:
    """Files holding a password that users other than syncd's and its group can read."""
    found = []
    for section, db in (("source", config.source), ("target", config.target)):
        if db.password_file is not None and files.readable_by_others(db.password_file):
            found.append(_("{section}.password_file {password_file} can be read by every user of this machine; chmod "
                           "640 {password_file} (owner root, "
                           "group syncd)").format(section=section, password_file=db.password_file))
    if config.state.password_file is not None and files.readable_by_others(config.state.password_file):
        found.append(_("state.password_file {password_file} can be read by every user of this machine; chmod 640 "
                       "{password_file}").format(password_file=config.state.password_file))
    smtp = config.alerts.smtp
    if smtp is not None and smtp.user and smtp.security == "none":
        found.append(_("alerts.smtp has a user ({user}) and security: none: its password crosses the network in "
                       "clear to {host}; use security: starttls or ssl if the "
                       "mail server offers it").format(user=smtp.user, host=smtp.host))
    if smtp is not None and smtp.password_file is not None and files.readable_by_others(smtp.password_file):
        found.append(_("alerts.smtp.password_file {password_file} can be read by every user of this machine; chmod "
                       "640 {password_file}").format(password_file=smtp.password_file))
    inline = [section for section, url in (("source", config.source.url), ("target", config.target.url),
                                           ("state", config.state.url)) if url and make_url(url).password]
    if inline and files.readable_by_others(config.path):
        found.append(_("{path} holds the password of {inline} in its URL and can be read by every user of this "
                       "machine; move the password to a "
                       "password_file, or chmod 640 {path}").format(path=config.path, inline=', '.join(inline)))
    return found
