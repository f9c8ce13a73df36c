"""``syncd init DIR``: a folder to start from, written from the files the package ships.

``DIR/config.yaml`` (config.example.yaml: every key, commented) and ``DIR/mappings/`` (the
reference mappings, one per intermediate table, with the code lists in ``codes/``). Nothing that
exists is overwritten unless asked: a county's edited mappings are its work.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from syncd import resources
from syncd.errors import ConfigError, Problem
from syncd.i18n import _


def init_folder(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files into ``directory``; returns them. Refuses to overwrite without ``force``."""
    config = directory / "config.yaml"
    mappings = directory / "mappings"
    sources = sorted(p for p in resources.mappings_dir().rglob("*.yaml") if p.is_file())
    planned = [(resources.example_config(), config)] + \
        [(src, mappings / src.relative_to(resources.mappings_dir())) for src in sources]
    existing = [dst for _src, dst in planned if dst.exists()]
    if existing and not force:
        raise ConfigError([Problem(str(directory), None, "init",
                                   _("{count} file(s) exist already (the first: {value}); choose an empty folder, or "
                                     "pass --force to overwrite them").format(count=len(existing), value=existing[0]))])
    written = []
    for src, dst in planned:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        written.append(dst)
    return written
