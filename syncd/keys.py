"""Source rows that share a key. Pure: takes rows, returns the rows to map and the duplicates.

A county table whose key column is not declared unique can hold two rows with one key. Synced
silently, the later would overwrite the earlier in the province's table, and a reject of one of
them could be resolved by the other. Both rows are held back instead, as one reject naming the
key and showing the other row, until the county fixes its data.

Within a batch every duplicate is found. Across the batches of one read, a full copy (read in key
order) finds a key that straddles a batch boundary; other reads remember the keys they have read
(an incremental window is small). A key whose first row was written in an earlier batch cannot be
unwritten: its later rows are still rejects, and the reject says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: an incremental read remembers at most this many keys (beyond it, only batches are checked)
MAX_REMEMBERED = 2_000_000


@dataclass(frozen=True)
class Duplicate:
    key: tuple[Any, ...]
    row: Sequence[Any]          # the row held back (the first of the batch's rows with this key)
    reason: str


class KeyTracker:
    """Splits each batch of one read into rows with a key of their own and duplicates."""

    def __init__(self, key_index: Sequence[int], names: Sequence[str], *, in_key_order: bool):
        self.key_index = tuple(key_index)
        self.names = tuple(names)
        self.in_key_order = in_key_order
        self._seen: set[Any] = set()
        self._last: Any = None
        self._any = False

    def _keys(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Each row's key: the value itself for a one-column key (the common case, and cheap)."""
        if len(self.key_index) == 1:
            at = self.key_index[0]
            return [row[at] for row in rows]
        return [tuple([row[i] for i in self.key_index]) for row in rows]

    def _as_key(self, value: Any) -> tuple[Any, ...]:
        return (value,) if len(self.key_index) == 1 else value

    def split(self, rows: Sequence[Sequence[Any]]) -> tuple[Sequence[Sequence[Any]], list[Duplicate]]:
        keys = self._keys(rows)
        earlier = self._earlier(keys)
        unique = len(set(keys)) == len(keys)
        self._remember(keys)
        if unique and not earlier:
            return rows, []
        by_key: dict[Any, list[int]] = {}
        for i, key in enumerate(keys):
            by_key.setdefault(key, []).append(i)
        held = {key for key, places in by_key.items() if len(places) > 1 or key in earlier}
        found = []
        for key in held:
            places = by_key[key]
            shown = self._describe_key(self._as_key(key))
            if len(places) > 1:
                reason = (f"key not unique in the source: {len(places)} rows have {shown} (another: "
                          f"{self._describe_row(rows[places[1]])}); all held back until the source has one row "
                          "per key")
            else:
                reason = (f"key not unique in the source: another row with {shown} was read earlier in this run "
                          "and written; this one is held back until the source has one row per key")
            found.append(Duplicate(self._as_key(key), rows[places[0]], reason))
        return [row for row, key in zip(rows, keys, strict=True) if key not in held], found

    def _earlier(self, keys: list[Any]) -> set[Any]:
        if self.in_key_order:
            return {keys[0]} if keys and self._any and keys[0] == self._last else set()
        if not self._seen:
            return set()
        return {k for k in keys if k in self._seen}

    def _remember(self, keys: list[Any]) -> None:
        if not keys:
            return
        if self.in_key_order:
            self._last, self._any = keys[-1], True
        elif len(self._seen) < MAX_REMEMBERED:
            self._seen.update(keys)

    def _describe_key(self, key: tuple[Any, ...]) -> str:
        names = [self.names[i] for i in self.key_index]
        return ", ".join(f"{n}={v!r}" for n, v in zip(names, key, strict=True))

    def _describe_row(self, row: Sequence[Any]) -> str:
        shown = []
        for name, value in zip(self.names, row, strict=False):
            text = repr(value)
            shown.append(f"{name}={text[:60] + '…' if len(text) > 60 else text}")
        return ", ".join(shown)
