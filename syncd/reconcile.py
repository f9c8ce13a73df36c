"""Reconciliation: is the target equal to the source, as the mappings say it should be?

For auditors' "was anything lost?". Reads every source row of a mapping, maps it exactly as a
run would, reads the target table, and names each difference by key: ``missing`` (in the source,
not in the target), ``different`` (a column differs), ``waiting`` (newer than the watermark: the
next run sends it), ``rejected`` (held back, with its reason in ``syncd rejects``), ``dropped`` (a
reject an operator gave up on, with the reason) and ``extra``
(in the target, not produced by this mapping — another mapping writing the same table, or a row
deleted at the source), ``stale`` (in the target, but its source row's newer version is a reject:
``update rejected``). With ``target.scope`` only the target rows of that condition are read, so
mappings sharing a table each reconcile their own rows. Columns stamped by syncd
(``value: now | run_id``) are not compared. ``syncd reconcile --repair`` (``syncd.repair``)
compares by buckets instead, without reading the target row by row.
The differences come back as a pandas DataFrame, ready for a CSV an auditor can open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from syncd import plan
from syncd.errors import shown_value
from syncd.mapping import CodeList, TableMapping
from syncd.source import Source
from syncd.state import StateStore
from syncd.target import Target
from syncd.transform import RowMapper, target_key_of
from syncd.watermark import Window, decode_key, decode_value

COLUMNS = ["mapping", "kind", "key", "column", "expected", "actual", "reason"]


@dataclass(frozen=True)
class Reconciliation:
    mapping: str
    source_rows: int
    target_rows: int
    differences: pd.DataFrame

    def count(self, kind: str) -> int:
        return int((self.differences["kind"] == kind).sum()) if len(self.differences) else 0

    @property
    def equal(self) -> bool:
        """Nothing missing, nothing different (waiting, rejected and extra rows are reported, not failures)."""
        return self.count("missing") == 0 and self.count("different") == 0


def same(expected: Any, actual: Any) -> bool:
    """Equal as the target stores it: Oracle's '' is NULL, DATETIME(0) drops fractions, 1.50 == 1.5."""
    if expected in (None, "") and actual in (None, ""):
        return True
    if expected is None or actual is None:
        return False
    if isinstance(expected, datetime) and isinstance(actual, datetime):
        if expected.microsecond == 0 or actual.microsecond == 0:
            return expected.replace(microsecond=0, tzinfo=None) == actual.replace(microsecond=0, tzinfo=None)
        return expected.replace(tzinfo=None) == actual.replace(tzinfo=None)
    if isinstance(expected, date) and isinstance(actual, date):
        return (expected.date() if isinstance(expected, datetime) else expected) == \
            (actual.date() if isinstance(actual, datetime) else actual)
    if isinstance(expected, (bytes, bytearray, memoryview)) or isinstance(actual, (bytes, bytearray, memoryview)):
        return bytes(expected) == bytes(actual)
    if isinstance(expected, (int, float, Decimal)) or isinstance(actual, (int, float, Decimal)):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    if isinstance(expected, datetime) or isinstance(actual, datetime):
        return str(expected)[:19] == str(actual)[:19]
    return expected == actual or str(expected) == str(actual)


def reconcile(mapping: TableMapping, *, source: Source, target: Target, state: StateStore,
              codes: Mapping[str, CodeList], now: datetime, tz: Any) -> Reconciliation:
    targets = target.describe(mapping)
    layout = plan.layout(mapping)
    mapper = RowMapper(mapping, layout, targets, codes, now=now, run_id="reconcile", tz=tz,
                       text_length=target.dialect.text_length, unsupported_text=target.dialect.unsupported_text,
                       nonfinite_floats=target.dialect.holds_nonfinite_floats)
    compared = [i for i, c in enumerate(mapper.columns) if mapping.columns[c].value is None]
    watermark = state.watermark(mapping.name)
    pending = {decode_key(k) for k in state.pending_keys(mapping.name)}
    dropped = {decode_key(k) for k in state.keys_with_status(mapping.name, "dropped")}
    rows: list[dict[str, Any]] = []
    expected: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
    source_rows = 0
    statements = [plan.read_window(mapping, Window())]
    if mapping.null_cursor == "include":
        statements.append(plan.read_null_cursor(mapping))
    for statement in statements:
        with source.stream(statement, mapping.batch_size) as batches:
            for batch in batches:
                source_rows += len(batch)
                mapped = mapper.map_batch(batch)
                for reject in mapped.rejects:
                    kind = "rejected" if reject.key in pending else "dropped" if reject.key in dropped else "missing"
                    rows.append(dict(mapping=mapping.name, kind=kind, key=_key(reject.key), column=reject.column,
                                     expected=None, actual=None, reason=reject.reason))
                for values, source_row in zip(mapped.rows, mapped.sources, strict=False):
                    expected[mapper.target_key(values)] = (values, source_row[layout.cursor])
    key_positions = [mapper.columns.index(k) for k in mapping.target.key]
    target_rows = 0
    stale = _stale_keys(mapping, mapper, state)
    for row in target.rows(mapping.target.table, target.schema_of(mapping.target.schema_), mapper.columns,
                           batch_size=mapping.batch_size, scope=mapping.target.scope):
        target_rows += 1
        key = tuple(row[i] for i in key_positions)
        found = expected.pop(key, None)
        if found is None:
            why = stale.get(key)
            rows.append(dict(mapping=mapping.name, kind="stale" if why else "extra", key=_key(key), column=None,
                             expected=None, actual=None,
                             reason=why or "in the target but not produced by this mapping from the source"))
            continue
        values, _cursor = found
        for i in compared:
            if not same(values[i], row[i]):
                rows.append(dict(mapping=mapping.name, kind="different", key=_key(key), column=mapper.columns[i],
                                 expected=shown_value(values[i]), actual=shown_value(row[i]), reason=None))
    for key, (_values, cursor) in expected.items():
        newer = watermark is None or watermark.snapshot or _after(cursor, watermark.cursor)
        rows.append(dict(mapping=mapping.name, kind="waiting" if newer else "missing", key=_key(key), column=None,
                         expected=None, actual=None,
                         reason="newer than the watermark: the next run sends it" if newer else
                         "in the source, not in the target"))
    return Reconciliation(mapping.name, source_rows, target_rows, pd.DataFrame(rows, columns=COLUMNS, dtype=object))


def _after(cursor: Any, watermark_cursor: Any) -> bool:
    if cursor is None:
        return False
    try:
        return cursor > watermark_cursor
    except TypeError:
        return str(cursor) > str(watermark_cursor)


def _key(key: tuple[Any, ...]) -> str:
    return ", ".join(str(k) for k in key)


def _stale_keys(mapping: TableMapping, mapper: RowMapper, state: StateStore) -> dict[tuple[Any, ...], str]:
    """Target key -> why, for the target rows whose source row's newer version is a pending (or
    dropped) reject: the target holds an older version, not a row from nowhere."""
    import json

    names = mapper.layout.names
    stale: dict[tuple[Any, ...], str] = {}
    for status, why in (("pending", "update rejected"), ("dropped", "update rejected, the reject dropped")):
        for reject in state.list_rejects(mapping.name, status=status, limit=None):
            try:
                data = json.loads(reject.get("row_data") or "{}")
            except ValueError:
                continue
            values = {k: decode_value(v) if isinstance(v, dict) else v for k, v in data.items()}
            key = target_key_of(mapper, tuple(values.get(n) for n in names))
            if key is not None:
                stale[key] = f"{why}: {reject.get('reason')} (syncd rejects)"
    return stale
