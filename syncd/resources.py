"""The data files syncd ships, found through the package (``importlib.resources``).

``sql/`` (the reference intermediate tables and the demo county schema, as YAML and DDL),
``mappings/`` (the reference mappings and code lists) and ``config.example.yaml`` live at the top
of the source tree, their single source of truth; the package reaches them as ``syncd/data/...``
(links in a checkout, copies in a wheel).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir() -> Path:
    return Path(str(resources.files("syncd") / "data"))


def reference_tables() -> Path:
    """The reference intermediate tables (``sql/tables.yaml``)."""
    return data_dir() / "sql" / "tables.yaml"


def county_tables() -> Path:
    """The demo county schema (``sql/county/tables.yaml``)."""
    return data_dir() / "sql" / "county" / "tables.yaml"


def mappings_dir() -> Path:
    """The reference mappings, with their code lists in ``codes/``."""
    return data_dir() / "mappings"


def example_config() -> Path:
    """config.example.yaml: every config key, commented."""
    return data_dir() / "config.example.yaml"


def tables_root() -> Path:
    """The folder that holds ``sql/`` and ``mappings/``: the source tree in a checkout (where
    ``syncd ddl`` regenerates the DDL and its docs), the package's data folder in an install."""
    return (data_dir() / "sql").resolve().parent
