"""Parent checks: rows whose parent row is not in the target yet are held back as rejects.

The province refuses a child that names a missing parent (a hidden danger whose risk unit is
not there). A mapping's ``parents:`` say which target columns name which parent table; this
module asks the target which of a batch's parents exist and turns the orphans into rejects,
which later runs retry. Reads the target through ``Target.existing``; writes nothing.

A dry run writes nothing either, so on an empty target every child would look orphaned. The dry
run keeps, in ``WouldWrite``, the parent keys it would have written (keys only, per target table)
and counts them as present: the mappings run in dependency order, parents first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from syncd.mapping import ParentSpec, TableMapping
from syncd.target import Target
from syncd.transform import MappedBatch, Reject, RowMapper


class WouldWrite:
    """The keys a dry run would have written, per target table: only the key columns that some
    mapping's ``parents:`` look up in that table, so memory grows with keys, not rows."""

    def __init__(self, mappings: Iterable[TableMapping], target: Target):
        self._keys: dict[tuple[str | None, str], dict[tuple[str, ...], set[tuple[Any, ...]]]] = {}
        for mapping in mappings:
            for parent in mapping.spec.parents:
                table = (target.schema_of(parent.schema_), parent.table.casefold())
                self._keys.setdefault(table, {}).setdefault(tuple(parent.key), set())

    def note(self, table: str, schema: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Remember the parent keys of ``rows``, which the dry run would write to ``table``."""
        for key, seen in self._keys.get((schema, table.casefold()), {}).items():
            if all(c in columns for c in key):
                positions = [columns.index(c) for c in key]
                seen.update(tuple(row[p] for p in positions) for row in rows)

    def present(self, table: str, schema: str | None, key: Sequence[str]) -> set[tuple[Any, ...]]:
        return self._keys.get((schema, table.casefold()), {}).get(tuple(key), set())


class ParentCheck:
    """The parent checks of one mapping, resolved against its target columns once per run.
    ``would_write``: in a dry run, the keys the run would have written count as present."""

    def __init__(self, mapping: TableMapping, mapper: RowMapper, target: Target,
                 would_write: WouldWrite | None = None):
        self.mapping, self.mapper, self.target = mapping, mapper, target
        self.would_write = would_write
        self.parents: list[tuple[ParentSpec, list[int], str | None]] = [
            (parent, [mapper.columns.index(c) for c in parent.columns], target.schema_of(parent.schema_))
            for parent in mapping.spec.parents]

    def apply(self, mapped: MappedBatch) -> MappedBatch:
        """``mapped`` without the rows whose parent is missing; those become rejects."""
        if not self.parents or not mapped.rows:
            return mapped
        bad: dict[int, str] = {}
        for parent, positions, schema in self.parents:
            present = self._present(parent, positions, schema, mapped, bad)
            for i, row in enumerate(mapped.rows):
                if i not in bad:
                    reason = _orphan_reason(parent, tuple(row[p] for p in positions), present)
                    if reason:
                        bad[i] = reason
        if not bad:
            return mapped
        keep = [i for i in range(len(mapped.rows)) if i not in bad]
        rejects = list(mapped.rejects)
        for i, reason in bad.items():
            rejects.append(Reject(mapped.keys[i], None, reason, self.mapper.source_row(mapped.sources[i])))
        return MappedBatch([mapped.rows[i] for i in keep], [mapped.keys[i] for i in keep], rejects,
                           [mapped.sources[i] for i in keep], mapped.superseded)

    def _present(self, parent: ParentSpec, positions: list[int], schema: str | None, mapped: MappedBatch,
                 bad: dict[int, str]) -> set[tuple[Any, ...]]:
        wanted = {tuple(row[p] for p in positions) for i, row in enumerate(mapped.rows) if i not in bad}
        wanted = {v for v in wanted if not any(x is None for x in v)}
        if self.would_write is not None:
            planned = self.would_write.present(parent.table, schema, parent.key)
            known = wanted & planned
            wanted -= known
        else:
            known = set()
        present = self.target.existing(parent.table, schema, parent.key, sorted(wanted, key=repr)) | known
        if parent.table == self.mapping.target.table:
            # A parent in the same table (a tree): rows of this very batch count as present.
            present |= {self.mapper.target_key(r) for r in mapped.rows}
        return present


def _orphan_reason(parent: ParentSpec, value: tuple[Any, ...], present: set[tuple[Any, ...]]) -> str | None:
    if any(x is None for x in value):
        if parent.optional:
            return None
        return f"{', '.join(parent.columns)} is NULL but must name a row of {parent.table}"
    if value in present:
        return None
    shown = ", ".join(f"{k}={v!r}" for k, v in zip(parent.key, value, strict=False))
    return f"parent {parent.table} {shown} is not in the target yet; held back and retried by later runs"
