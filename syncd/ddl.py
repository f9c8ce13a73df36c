"""Table definitions in YAML -> SQLAlchemy MetaData -> DDL files and table documentation.

Owns the format of sql/tables.yaml (the reference intermediate tables) and
sql/county/tables.yaml (the demo county schema), the committed DDL under sql/ and
docs/intermediate-tables.md. Everything here is generated from those YAML files, so
a change is made once, in YAML, and `syncd ddl` rewrites the rest.

Loading and rendering are pure; only write_all() and main() touch the file system.
Nothing here connects to a database.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment
from sqlalchemy.types import TypeEngine

from syncd import dialects, resources
from syncd.i18n import _

TYPES = ("string", "text", "integer", "decimal", "datetime", "date", "binary")

COLUMN_KEYS = frozenset({
    "type", "length", "precision", "scale", "nullable", "primary_key", "default",
    "codes", "assumption", "references", "index", "title", "meaning", "autoincrement",
})
TABLE_KEYS = frozenset({"title", "comment", "assumption", "columns", "indexes"})
INDEX_KEYS = frozenset({"columns", "unique"})

# Oracle before 12.2 limits identifiers to 30 bytes; provincial databases are often older.
MAX_IDENTIFIER = 30

# Words that are reserved in at least one of the four target databases and tempting as
# column names. Quoting them would work, but every hand-written query would then need quotes.
RESERVED = frozenset({
    "access", "comment", "date", "desc", "file", "group", "index", "key", "level", "mode",
    "number", "option", "order", "range", "rank", "resource", "row", "rows", "session",
    "size", "start", "table", "type", "uid", "user", "value", "values",
})

GENERATED_BY = "syncd ddl"

REFERENCE_YAML = Path("sql/tables.yaml")
COUNTY_YAML = Path("sql/county/tables.yaml")
CODES_DIR = Path("mappings/codes")
DOCS_FILE = Path("docs/intermediate-tables.md")
REFERENCE_DIALECTS = dialects.REFERENCE_DDL
COUNTY_DIALECTS = dialects.COUNTY_DDL


# ---------------------------------------------------------------------------- loading

def load_tables(path: str | Path) -> MetaData:
    """Read a table-definition YAML file into a MetaData.

    Titles, meanings, code lists, assumptions and references are kept in `.info` of
    the tables and columns so documentation can be rendered from the MetaData alone.
    Raises ValueError naming the file, table and column of the first problem.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(_("{path}: not valid YAML: {exc}").format(path=path, exc=exc)) from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tables"), Mapping) or not doc["tables"]:
        raise ValueError(_("{path}: expected a mapping with a non-empty 'tables' mapping").format(path=path))

    metadata = MetaData(info={
        "source": path.as_posix(),
        "title": str(doc.get("title", "")),
        "notes": str(doc.get("notes", "")),
    })
    common = doc.get("common_columns") or {}
    if not isinstance(common, Mapping):
        raise ValueError(_("{path}: 'common_columns' must be a mapping of column definitions").format(path=path))

    for table_name, spec in doc["tables"].items():
        _build_table(metadata, path, str(table_name), spec, common)
    _check_references(metadata, path)
    return metadata


def _build_table(metadata: MetaData, path: Path, name: str, spec: Any, common: Mapping) -> Table:
    where = f"{path}: table {name!r}"
    _check_identifier(name, where)
    if not isinstance(spec, Mapping):
        raise ValueError(_("{where}: expected a mapping").format(where=where))
    unknown = set(spec) - TABLE_KEYS
    if unknown:
        raise ValueError(_("{where}: unknown "
                           "keys {sorted}; allowed: {sorted2}")
                         .format(where=where, sorted=sorted(unknown), sorted2=sorted(TABLE_KEYS)))
    columns_spec = spec.get("columns")
    if not isinstance(columns_spec, Mapping) or not columns_spec:
        raise ValueError(_("{where}: 'columns' must be a non-empty mapping").format(where=where))
    clash = set(columns_spec) & set(common)
    if clash:
        raise ValueError(_("{where}: columns {sorted} are already common "
                           "columns").format(where=where, sorted=sorted(clash)))

    columns: list[Column] = []
    column_indexes: list[tuple[str, str]] = []
    for column_name, column_spec in [*columns_spec.items(), *common.items()]:
        column, index_name = _build_column(path, name, str(column_name), column_spec)
        columns.append(column)
        if index_name:
            column_indexes.append((index_name, column.name))
    if not any(c.primary_key for c in columns):
        raise ValueError(_("{where}: no column has primary_key: true").format(where=where))

    comment = _join(spec.get("title"), spec.get("comment"))
    table = Table(
        name, metadata, *columns,
        comment=comment or None,
        info={
            "title": str(spec.get("title", "")),
            "comment": str(spec.get("comment", "")),
            "assumption": bool(spec.get("assumption", False)),
        },
        mysql_engine="InnoDB",
        mysql_default_charset="utf8mb4",
    )

    for index_name, column_name in column_indexes:
        Index(index_name, table.c[column_name])
    indexes = spec.get("indexes") or {}
    if not isinstance(indexes, Mapping):
        raise ValueError(_("{where}: 'indexes' must be a mapping of index name -> {{columns, "
                           "unique}}").format(where=where))
    for index_name, index_spec in indexes.items():
        iwhere = f"{where}, index {index_name!r}"
        _check_identifier(str(index_name), iwhere)
        if not isinstance(index_spec, Mapping) or set(index_spec) - INDEX_KEYS or not index_spec.get("columns"):
            raise ValueError(_("{iwhere}: expected {{columns: [...], unique: true|false}}").format(iwhere=iwhere))
        missing = [c for c in index_spec["columns"] if c not in table.c]
        if missing:
            raise ValueError(_("{iwhere}: unknown columns {missing}").format(iwhere=iwhere, missing=missing))
        Index(str(index_name), *(table.c[c] for c in index_spec["columns"]),
              unique=bool(index_spec.get("unique", False)))
    names = [i.name for i in table.indexes]
    if len(names) != len(set(names)):
        raise ValueError(_("{where}: duplicate index names "
                           "{sorted}").format(where=where, sorted=sorted(str(n) for n in names)))
    return table


def _build_column(path: Path, table: str, name: str, spec: Any) -> tuple[Column, str | None]:
    where = f"{path}: table {table!r}, column {name!r}"
    _check_identifier(name, where)
    if not isinstance(spec, Mapping):
        raise ValueError(_("{where}: expected a mapping such as {{type: string, length: 36}}").format(where=where))
    unknown = set(spec) - COLUMN_KEYS
    if unknown:
        raise ValueError(_("{where}: "
                           "unknown keys {sorted}; allowed: {sorted2}")
                         .format(where=where, sorted=sorted(unknown), sorted2=sorted(COLUMN_KEYS)))

    type_ = _column_type(where, spec)
    primary_key = bool(spec.get("primary_key", False))
    nullable = bool(spec.get("nullable", not primary_key))
    if primary_key and nullable:
        raise ValueError(_("{where}: a primary key column cannot be nullable").format(where=where))
    default = spec.get("default")
    if default is not None and not isinstance(default, str):
        raise ValueError(_("{where}: default must be a quoted string, e.g. default: \"0\"").format(where=where))
    if default == "" and not nullable:
        # Oracle stores '' as NULL, so such a default breaks the NOT NULL constraint there.
        raise ValueError(_("{where}: an empty default on a NOT NULL column fails on Oracle").format(where=where))
    references = spec.get("references")
    if references is not None and (not isinstance(references, str) or references.count(".") != 1):
        raise ValueError(_("{where}: references must look like parent_table.column").format(where=where))

    index = spec.get("index", False)
    index_name: str | None = None
    if index is True:
        index_name = f"ix_{table}_{name}"
        if len(index_name) > MAX_IDENTIFIER:
            raise ValueError(
                _("{where}: index name {index_name!r} is longer than {max_identifier} characters; give it a name: "
                  "index: ix_short_name").format(where=where, index_name=index_name, max_identifier=MAX_IDENTIFIER))
    elif isinstance(index, str):
        _check_identifier(index, f"{where}, index")
        index_name = index
    elif index is not False:
        raise ValueError(_("{where}: index must be true, false or an index name").format(where=where))

    info = {
        "type": spec["type"],
        "title": str(spec.get("title", "")),
        "meaning": str(spec.get("meaning", "")),
        "codes": spec.get("codes"),
        "assumption": bool(spec.get("assumption", False)),
        "references": references,
    }
    comment = _join(spec.get("title"), spec.get("meaning"))
    column = Column(
        name, type_,
        primary_key=primary_key,
        nullable=nullable,
        server_default=text(_quote(default)) if default is not None else None,
        autoincrement=bool(spec.get("autoincrement", False)) if primary_key else False,
        comment=comment or None,
        info=info,
    )
    return column, index_name


def _column_type(where: str, spec: Mapping) -> TypeEngine:
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(_("{where}: type must be one of {list}, "
                           "not {kind!r}").format(where=where, list=list(TYPES), kind=kind))
    extra = {"length", "precision", "scale"} & set(spec)
    if kind == "string":
        length = spec.get("length")
        if not isinstance(length, int) or length <= 0:
            raise ValueError(_("{where}: string needs a positive integer length").format(where=where))
        if length > 4000:
            raise ValueError(_("{where}: string length {length} exceeds 4000; use "
                               "type: text").format(where=where, length=length))
        if extra - {"length"}:
            raise ValueError(_("{where}: string takes only a length").format(where=where))
        return String(length)
    if kind == "decimal":
        precision, scale = spec.get("precision"), spec.get("scale", 0)
        if not isinstance(precision, int) or not isinstance(scale, int) or not 0 <= scale <= precision:
            raise ValueError(_("{where}: decimal needs integer precision and scale, 0 <= scale "
                               "<= precision").format(where=where))
        if "length" in spec:
            raise ValueError(_("{where}: decimal takes precision and scale, not length").format(where=where))
        return Numeric(precision, scale)
    if extra:
        raise ValueError(_("{where}: type {kind} takes no "
                           "{sorted}").format(where=where, kind=kind, sorted=sorted(extra)))
    if kind == "binary":
        return dialects.large_binary()
    plain: dict[str, TypeEngine[Any]] = {"text": Text(), "integer": Integer(), "datetime": DateTime(),
                                         "date": Date()}
    return plain[kind]


def _check_identifier(name: str, where: str) -> None:
    if not name.isascii() or not name.replace("_", "").isalnum() or not name[0].isalpha() or name != name.lower():
        raise ValueError(_("{where}: {name!r} must be lower-case ASCII letters, "
                           "digits and _").format(where=where, name=name))
    if len(name) > MAX_IDENTIFIER:
        raise ValueError(_("{where}: {name!r} is "
                           "longer than {max_identifier} characters (Oracle limit)")
                         .format(where=where, name=name, max_identifier=MAX_IDENTIFIER))
    if name in RESERVED:
        raise ValueError(_("{where}: {name!r} is a reserved word in one of the target "
                           "databases").format(where=where, name=name))


def _check_references(metadata: MetaData, path: Path) -> None:
    for table in metadata.sorted_tables:
        for column in table.columns:
            ref = column.info["references"]
            if not ref:
                continue
            parent, parent_column = ref.split(".")
            if parent not in metadata.tables or parent_column not in metadata.tables[parent].c:
                raise ValueError(
                    _("{path}: table {name!r}, column "
                      "{name2!r}: references unknown {ref!r}")
                    .format(path=path, name=table.name, name2=column.name, ref=ref))


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _join(*parts: Any) -> str:
    return "：".join(str(p).strip() for p in parts if p)


# ---------------------------------------------------------------------------- ordering

def parents_of(table: Table) -> list[str]:
    """Parent tables named by `references`, in column order, without self-references."""
    seen: list[str] = []
    for column in table.columns:
        ref = column.info.get("references")
        if ref:
            parent = ref.split(".")[0]
            if parent != table.name and parent not in seen:
                seen.append(parent)
    return seen


def sync_order(metadata: MetaData) -> list[str]:
    """Table names with every parent before its children; ties keep definition order."""
    remaining = list(metadata.tables)
    done: list[str] = []
    while remaining:
        ready = [t for t in remaining if all(p in done for p in parents_of(metadata.tables[t]))]
        if not ready:
            raise ValueError(_("{get}: reference cycle "
                               "among {remaining}").format(get=metadata.info.get('source'), remaining=remaining))
        done.append(ready[0])
        remaining.remove(ready[0])
    return done


# ---------------------------------------------------------------------------- DDL

def render_ddl(metadata: MetaData, dialect_name: str) -> str:
    """CREATE TABLE / CREATE INDEX (and COMMENT ON where needed) for one dialect, as one script."""
    if dialect_name not in (*REFERENCE_DIALECTS, *dialects.ON_REQUEST_DDL):
        raise ValueError(_("unknown dialect {dialect_name!r}; expected one of {known}").format(
            dialect_name=dialect_name, known=[*REFERENCE_DIALECTS, *dialects.ON_REQUEST_DDL]))
    ours = dialects.get(dialect_name)
    try:
        dialect = ours.sqlalchemy_dialect()
    except Exception as exc:  # noqa: BLE001 - an optional dialect package may raise anything while it loads
        raise ValueError(_("no DDL for {dialect}: its SQLAlchemy dialect cannot be loaded ({exc}); "
                           "install it (pip install 'syncd[{dialect}]')").format(
                               dialect=dialect_name, exc=exc)) from None
    source = metadata.info.get("source", "the table definitions")
    title = metadata.info.get("title", "")
    out = [
        f"-- {title} ({dialect_name})" if title else f"-- {dialect_name}",
        f"-- Generated from {source} by `{GENERATED_BY}`. Do not edit: change the YAML and regenerate.",
    ]
    if ours.ddl_note:
        out.append(ours.ddl_note)
    out.append("")

    # Comments inline in MySQL; PostgreSQL and Oracle need COMMENT ON statements; SQLite has none.
    separate_comments = ours.ddl_separate_comments
    for name in sync_order(metadata):
        table = metadata.tables[name]
        out.append(f"-- {table.name}: {table.info.get('title', '')}".rstrip(": "))
        out.append(_statement(CreateTable(table), dialect))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            out.append(_statement(CreateIndex(index), dialect))
        if separate_comments:
            if table.comment:
                out.append(_statement(SetTableComment(table), dialect))
            for column in table.columns:
                if column.comment:
                    out.append(_statement(SetColumnComment(column), dialect))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _statement(element: Any, dialect: Dialect) -> str:
    sql = str(element.compile(dialect=dialect)).strip()
    lines = [line.rstrip() for line in sql.splitlines() if line.strip()]
    return "\n".join(lines) + ";"


# ---------------------------------------------------------------------------- docs

def load_code_lists(codes_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Code list files by name; only what the documentation needs, no validation beyond shape."""
    lists: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(codes_dir).glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, Mapping) or not isinstance(doc.get("codes"), list):
            raise ValueError(_("{path}: expected a mapping with a 'codes' list").format(path=path))
        lists[str(doc.get("name", path.stem))] = dict(doc)
    return lists


def _type_label(column: Column) -> str:
    kind = column.info["type"]
    sa_type: Any = column.type
    if kind == "string":
        return f"string({sa_type.length})"
    if kind == "decimal":
        return f"decimal({sa_type.precision},{sa_type.scale})"
    return str(kind)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_docs(metadata: MetaData, code_lists: Mapping[str, Mapping[str, Any]]) -> str:
    """docs/intermediate-tables.md: notes, sync order, every table and column, every code list."""
    source = metadata.info.get("source", "")
    out = [
        f"# {metadata.info.get('title') or 'Intermediate tables'}",
        "",
        f"<!-- Generated from {source} and mappings/codes/*.yaml by `{GENERATED_BY}`. Do not edit. -->",
        "",
    ]
    notes = metadata.info.get("notes", "").strip()
    if notes:
        out += [notes, ""]

    order = sync_order(metadata)
    out += ["## Sync order", "",
            "Parents before children (from the `references` of each column):", ""]
    for i, name in enumerate(order, 1):
        parents = parents_of(metadata.tables[name])
        after = f" — after {', '.join(f'`{p}`' for p in parents)}" if parents else ""
        out.append(f"{i}. `{name}` {metadata.tables[name].info['title']}{after}")
    out.append("")

    out += ["## Tables", ""]
    for name in order:
        table = metadata.tables[name]
        flag = " *(assumption)*" if table.info["assumption"] else ""
        out += [f"### `{name}` — {table.info['title']}{flag}", ""]
        if table.info["comment"]:
            out += [table.info["comment"], ""]
        keys = ", ".join(f"`{c.name}`" for c in table.primary_key.columns)
        out += [f"Primary key: {keys}.", ""]
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            kind = "Unique index" if index.unique else "Index"
            out.append(f"{kind} `{index.name}` ({', '.join(c.name for c in index.columns)}).  ")
        if table.indexes:
            out.append("")
        out += ["| column | 中文名 | type | null | codes | meaning |",
                "|---|---|---|---|---|---|"]
        for column in table.columns:
            info = column.info
            name_cell = f"`{column.name}`" + (" ⚠" if info["assumption"] else "")
            null = "PK" if column.primary_key else ("yes" if column.nullable else "NOT NULL")
            server_default: Any = column.server_default
            default = server_default.arg.text if server_default is not None else None
            if default is not None:
                null += f", default {default}"
            codes = f"[{info['codes']}](#code-list-{info['codes']})" if info["codes"] else ""
            meaning = info["meaning"]
            if info["references"]:
                meaning = _join(meaning, f"→ `{info['references']}`") if meaning else f"→ `{info['references']}`"
            out.append(f"| {name_cell} | {_cell(info['title'])} | {_type_label(column)} | {null} | "
                       f"{codes} | {_cell(meaning)} |")
        out.append("")
    out += ["⚠ = assumption: not in the national field set; confirm against the province's table list.", ""]

    used = sorted({c.info["codes"] for t in metadata.tables.values() for c in t.columns if c.info["codes"]})
    missing = [name for name in used if name not in code_lists]
    if missing:
        raise ValueError(_("{source}: columns use code lists missing from "
                           "mappings/codes/: {missing}").format(source=source, missing=missing))
    out += ["## Code lists", "",
            "Stored value = `code`. syncd also accepts the label and every alias (whitespace stripped).", ""]
    for name in sorted(code_lists):
        code_list = code_lists[name]
        users = [f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.columns
                 if c.info["codes"] == name]
        out += [f"<a id=\"code-list-{name}\"></a>", f"### `{name}` — {code_list.get('title', '')}", ""]
        if users:
            out += ["Used by " + ", ".join(f"`{u}`" for u in users) + ".", ""]
        extra = sorted({k for c in code_list["codes"] for k in c} - {"code", "label", "aliases"})
        out.append("| code | label | " + "".join(f"{k} | " for k in extra) + "aliases |")
        out.append("|---|---|" + "---|" * len(extra) + "---|")
        for code in code_list["codes"]:
            aliases = ", ".join(str(a) for a in code.get("aliases", []))
            cells = "".join(f"{_cell(code.get(k, ''))} | " for k in extra)
            out.append(f"| `{code['code']}` | {_cell(code['label'])} | {cells}{_cell(aliases)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------- files

def rendered_files(root: str | Path) -> dict[Path, str]:
    """Every generated file (path relative to root) and its content."""
    root = Path(root)
    files: dict[Path, str] = {}
    reference = _load_relative(root, REFERENCE_YAML)
    for dialect in REFERENCE_DIALECTS:
        files[Path("sql/reference") / f"{dialect}.sql"] = render_ddl(reference, dialect)
    county = _load_relative(root, COUNTY_YAML)
    for dialect in COUNTY_DIALECTS:
        files[Path("sql/county") / f"{dialect}.sql"] = render_ddl(county, dialect)
    files[DOCS_FILE] = render_docs(reference, load_code_lists(root / CODES_DIR))
    return files


def _load_relative(root: Path, relative: Path) -> MetaData:
    metadata = load_tables(root / relative)
    # Headers name the repository path, not wherever the checkout happens to live.
    metadata.info["source"] = relative.as_posix()
    return metadata


def write_all(root: str | Path) -> list[Path]:
    """Regenerate every DDL file and the table documentation under root; returns the paths written."""
    root = Path(root)
    written = []
    for relative, content in rendered_files(root).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8", newline="\n")
        written.append(target)
    return written


def write_reference(directory: Path, dialect_names: Sequence[str] | None = None) -> list[Path]:
    """The reference intermediate tables' DDL, one ``<dialect>.sql`` per dialect, into ``directory``."""
    names = list(dialect_names or REFERENCE_DIALECTS)
    known = (*REFERENCE_DIALECTS, *dialects.ON_REQUEST_DDL)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(_("no reference DDL for {unknown}; choose from {known}").format(
            unknown=", ".join(unknown), known=", ".join(known)))
    reference = load_tables(resources.reference_tables())
    reference.info["source"] = REFERENCE_YAML.as_posix()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = directory / f"{name}.sql"
        path.write_text(render_ddl(reference, name), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def project_root() -> Path:
    return resources.tables_root()
