"""The data files syncd ships, found through the package (``importlib.resources``).

``sql/`` (the reference intermediate tables and the demo county schema, as YAML and DDL) and
``mappings/`` (the reference mappings and code lists) live at the top of the source tree, their
single source of truth; the package reaches them as ``syncd/data/sql`` and ``syncd/data/mappings``
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


def tables_root() -> Path:
    """The folder that holds ``sql/`` and ``mappings/``: the source tree in a checkout (where
    ``syncd ddl`` regenerates the DDL and its docs), the package's data folder in an install."""
    return (data_dir() / "sql").resolve().parent
