"""Row digests for reconcile: one canonical text per value, the same in Python and in each database.

Pure. Reconcile compares a target table with its source without sending the table over the
link: the target hashes its rows inside the database (``syncd.dialects``: SQL built from the
same rules as below), the source rows are mapped as a run maps them and hashed here, and only
per-bucket sums travel. The rules, per target column kind (a NULL, and an empty text or binary
value, which Oracle cannot tell from NULL, are the empty piece):

- ``str``, ``text``: its length in characters, ``:``, and the text; with a ``prefix`` (Oracle,
  whose hash functions take at most 2000 bytes without extra grants): its length, ``:``, and the
  MD5 (hex) of the UTF-8 of its first ``prefix`` characters;
- ``bytes``: the MD5 of the bytes; with a ``prefix``: length, ``:``, MD5 of the first ``prefix`` bytes;
- ``int``: decimal digits with a leading ``-`` when negative;
- ``decimal``: rounded half away from zero to the column's scale and written with exactly that many
  places (``1.50``); a column without a scale: trailing zeros dropped (``1.5``, ``2``);
- ``datetime``: ``YYYY-MM-DD HH:MM:SS``, with ``.ffffff`` when the column keeps fractions of a
  second (rounded half up to the digits it keeps, or cut off where the database cuts them,
  written as six);
- ``date``: ``YYYY-MM-DD``; ``bool``: ``1`` or ``0``.

Other kinds (floating point, time of day, types syncd does not know) are not compared: their text
differs between databases in ways no rule can pin down; reconcile says which columns it leaves
out. A row's text is its pieces joined by ``|`` (more than ``GROUP`` pieces: the MD5 of each group
of ``GROUP``, joined); its value is the first 60 bits of the MD5 of the text's UTF-8. Its bucket is
the first 32 bits of the MD5 of its key's text, modulo the number of buckets (a power of two).
The length before each text makes the joined text unambiguous (a ``|`` inside a value cannot pass
for a column boundary). A bucket's
digest is (rows, sum of values): equal digests mean equal rows but for a chance of about 2^-60.
"""

from __future__ import annotations

import functools
import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: the kinds whose canonical text is pinned down on every database
HASHED_KINDS = frozenset({"str", "text", "int", "decimal", "datetime", "date", "bool", "bytes"})
SEPARATOR = "|"
#: pieces hashed together before the row's own hash (keeps a row's text under 2000 bytes)
GROUP = 40
#: the finest buckets the source side keeps; the buckets asked of the target divide it
FINE_BUCKETS = 1 << 16
#: about how many rows one bucket holds: a differing bucket costs reading that many keys
ROWS_PER_BUCKET = 100
#: hex digits of the key hash that choose its bucket, and of the row hash that are summed
BUCKET_DIGITS = 8
VALUE_DIGITS = 15


@dataclass(frozen=True)
class HashColumn:
    """How one target column takes part in a row's digest."""

    name: str
    kind: str
    #: decimal: places after the point the column keeps (None: any, trailing zeros dropped)
    scale: int | None = None
    precision: int | None = None
    #: datetime: digits of a second's fraction the column keeps (0: whole seconds), and whether the
    #: database rounds a finer value half up (MySQL, PostgreSQL) or cuts it off (MariaDB)
    fraction: int = 6
    rounds: bool = True
    #: str, text, bytes: compare by length and the hash of this many leading characters or bytes
    prefix: int | None = None


@dataclass(frozen=True)
class DigestPlan:
    """What reconcile hashes of one target table: the compared columns (in the mapping's order),
    the key, the rows in ``scope`` (a SQL condition) and, with ``on_source_delete: {set: ...}``,
    which rows count as marked deleted (each column's piece equal to its text): those are left out
    on both sides."""

    table: str
    schema: str | None
    columns: tuple[HashColumn, ...]
    key: tuple[HashColumn, ...]
    scope: str | None = None
    marked: tuple[tuple[HashColumn, str], ...] = ()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _text_piece(col: HashColumn) -> Callable[[Any], str]:
    prefix = col.prefix
    if prefix is None:
        def whole(v: Any) -> str:
            if v is None or v == "":
                return ""
            text = str(v)
            return f"{len(text)}:{text}"
        return whole

    def head(v: Any) -> str:
        if v is None or v == "":
            return ""
        text = str(v)
        return f"{len(text)}:{md5_hex(text[:prefix].encode('utf-8'))}"
    return head


def _bytes_piece(col: HashColumn) -> Callable[[Any], str]:
    prefix = col.prefix

    def piece(v: Any) -> str:
        if v is None:
            return ""
        data = bytes(v)
        if not data:
            return ""
        return md5_hex(data) if prefix is None else f"{len(data)}:{md5_hex(data[:prefix])}"
    return piece


def _int_piece(col: HashColumn) -> Callable[[Any], str]:
    def piece(v: Any) -> str:
        return "" if v is None else str(int(v))
    return piece


def _decimal_piece(col: HashColumn) -> Callable[[Any], str]:
    scale = col.scale
    step = Decimal(1).scaleb(-scale) if scale is not None else None

    def piece(v: Any) -> str:
        if v is None:
            return ""
        number = v if isinstance(v, Decimal) else Decimal(str(v))
        if step is not None:
            number = number.quantize(step, rounding=ROUND_HALF_UP)
            if number.is_zero():
                number = abs(number)
            return format(number, "f")
        return trim_zeros(format(abs(number) if number.is_zero() else number, "f"))
    return piece


def trim_zeros(text: str) -> str:
    """``1.500`` -> ``1.5``, ``2.00`` -> ``2``; text without a point stays as it is."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def round_fraction(moment: datetime, digits: int, *, rounds: bool = True) -> datetime:
    """``moment`` as a column keeping ``digits`` digits of a second stores it: rounded half up, or
    (``rounds`` False) cut off."""
    if digits >= 6:
        return moment
    unit = 10 ** (6 - digits)
    kept = ((moment.microsecond + unit // 2) if rounds else moment.microsecond) // unit * unit
    return moment.replace(microsecond=0) + timedelta(microseconds=kept)


def _datetime_piece(col: HashColumn) -> Callable[[Any], str]:
    digits = max(0, min(col.fraction, 6))
    rounds = col.rounds

    def piece(v: Any) -> str:
        if v is None:
            return ""
        moment = v if isinstance(v, datetime) else datetime(v.year, v.month, v.day)
        moment = round_fraction(moment.replace(tzinfo=None), digits, rounds=rounds)
        return moment.isoformat(" ", "seconds" if digits == 0 else "microseconds")
    return piece


def _date_piece(col: HashColumn) -> Callable[[Any], str]:
    def piece(v: Any) -> str:
        if v is None:
            return ""
        return (v.date() if isinstance(v, datetime) else v).isoformat() if isinstance(v, date) else str(v)
    return piece


def _bool_piece(col: HashColumn) -> Callable[[Any], str]:
    def piece(v: Any) -> str:
        return "" if v is None else ("1" if v else "0")
    return piece


_PIECES: dict[str, Callable[[HashColumn], Callable[[Any], str]]] = {
    "str": _text_piece, "text": _text_piece, "bytes": _bytes_piece, "int": _int_piece,
    "decimal": _decimal_piece, "datetime": _datetime_piece, "date": _date_piece, "bool": _bool_piece,
}


def piece_function(col: HashColumn) -> Callable[[Any], str]:
    """The function giving a value's canonical text in a column like ``col``."""
    return _PIECES[col.kind](col)


def groups(pieces: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(pieces), GROUP):
        yield pieces[start:start + GROUP]


def row_text(pieces: Sequence[str]) -> str:
    """The text a row's hash is taken of: the pieces joined, or the hashes of their groups joined."""
    if len(pieces) <= GROUP:
        return SEPARATOR.join(pieces)
    return SEPARATOR.join(md5_hex(SEPARATOR.join(g).encode("utf-8")) for g in groups(pieces))


class RowHasher:
    """Hashes mapped rows (tuples in the mapping's column order): the key's hash and the row's value.

    ``hash(values)`` gives both at once through a function written out for the columns' kinds
    (the usual values take an inline path; any other goes to the piece functions above); ``key_hex``
    and ``value`` are the plain definitions, which tests hold the fast path to."""

    def __init__(self, columns: Sequence[HashColumn], positions: Sequence[int],
                 key_columns: Sequence[HashColumn], key_positions: Sequence[int]):
        self.columns = tuple(columns)
        self._row = [(p, piece_function(c)) for c, p in zip(columns, positions, strict=True)]
        self._key = [(p, piece_function(c)) for c, p in zip(key_columns, key_positions, strict=True)]
        chosen = list(zip(columns, positions, strict=True))
        keyed = list(zip(key_columns, key_positions, strict=True))
        self.hash: Callable[[Sequence[Any]], tuple[str, int]] = compile_hasher(chosen, keyed)
        #: (values) -> (the first 64 bits of the key's hash: ``key_bits``, row value)
        self.bits: Callable[[Sequence[Any]], tuple[int, int]] = compile_hasher(chosen, keyed, bucket=True)

    def key_hex(self, values: Sequence[Any]) -> str:
        return md5_hex(row_text([f(values[p]) for p, f in self._key]).encode("utf-8"))

    def pieces(self, values: Sequence[Any]) -> list[str]:
        return [f(values[p]) for p, f in self._row]

    def value(self, values: Sequence[Any]) -> int:
        return row_value(row_text(self.pieces(values)))


def row_value(text: str) -> int:
    """The number a row adds to its bucket's sum: the first 60 bits of the MD5 of its text's UTF-8."""
    return int(md5_hex(text.encode("utf-8"))[:VALUE_DIGITS], 16)


def _inline(col: HashColumn, name: str, slow: str, scope: dict[str, Any]) -> str:
    """A Python expression giving the piece of the value in variable ``name``: the usual value of
    the column's kind inline, anything else through the piece function ``slow``."""
    v = name
    kind = col.kind
    if kind in ("str", "text") and col.prefix is None:
        return f"(f'{{len({v})}}:{{{v}}}' if type({v}) is str and {v} else {slow}({v}))"
    if kind == "int":
        return f"(str({v}) if type({v}) is int else {slow}({v}))"
    if kind == "datetime":
        if col.fraction >= 6:
            return (f"({v}.isoformat(' ', 'microseconds') if type({v}) is datetime and {v}.tzinfo is None "
                    f"else {slow}({v}))")
        if col.fraction == 0:
            return (f"({v}.isoformat(' ') if type({v}) is datetime and not {v}.microsecond and {v}.tzinfo is None "
                    f"else {slow}({v}))")
    if kind == "date":
        return f"({v}.isoformat() if type({v}) is date else {slow}({v}))"
    if kind == "decimal" and col.scale is not None:
        quantum = f"Q_{name}"
        scope[quantum] = Decimal(1).scaleb(-col.scale)
        # str() writes a Decimal of at most 6 places (and an exponent of its scale) without an exponent
        text = "str" if col.scale <= 6 else "format"
        args = f"{v}" if text == "str" else f"{v}, 'f'"
        return f"({text}({args}) if type({v}) is Decimal and {v} and {v}.same_quantum({quantum}) else {slow}({v}))"
    return f"{slow}({v})"


def _joined(parts: Sequence[str]) -> str:
    """A Python expression for ``row_text`` of the pieces' expressions ``parts``."""
    if len(parts) <= GROUP:
        return f"SEP.join(({', '.join(parts)},))"
    hashed = [f"md5(SEP.join(({', '.join(g)},)).encode()).hexdigest()" for g in groups(parts)]
    return f"SEP.join(({', '.join(hashed)},))"


def compile_hasher(columns: Sequence[tuple[HashColumn, int]], key: Sequence[tuple[HashColumn, int]], *,
                   bucket: bool = False) -> Callable[[Sequence[Any]], tuple[Any, int]]:
    """A function (values) -> (key's hex hash, row value), written out for these columns; with
    ``bucket``: (the first 64 bits of the key's hash, row value), which needs no hex text."""
    scope: dict[str, Any] = {"SEP": SEPARATOR, "datetime": datetime, "date": date, "Decimal": Decimal,
                             "md5": functools.partial(hashlib.md5, usedforsecurity=False),
                             "from_bytes": int.from_bytes}
    lines = ["def hash_row(values):"]
    used = sorted({p for _, p in columns} | {p for _, p in key})
    lines += [f"    c{p} = values[{p}]" for p in used]

    def parts(chosen: Sequence[tuple[HashColumn, int]], tag: str) -> list[str]:
        found = []
        for i, (col, p) in enumerate(chosen):
            slow = f"P_{tag}{i}"
            scope[slow] = piece_function(col)
            found.append(_inline(col, f"c{p}", slow, scope))
        return found
    # The first 15 hex digits of a hash are the top 60 bits of its first 8 bytes (and the first 8
    # hex digits, which choose the bucket, the top 32 bits of the key's 64).
    assert VALUE_DIGITS == 15 and BUCKET_DIGITS == 8 and FINE_BUCKETS == 1 << 16
    if bucket:
        lines.append(f"    key = from_bytes(md5({_joined(parts(key, 'k'))}.encode()).digest()[:8], 'big')")
    else:
        lines.append(f"    key = md5({_joined(parts(key, 'k'))}.encode()).hexdigest()")
    lines.append(f"    row = md5({_joined(parts(columns, 'r'))}.encode()).digest()")
    lines.append("    return key, from_bytes(row[:8], 'big') >> 4")
    exec(compile("\n".join(lines) + "\n", "<syncd row hash>", "exec"), scope)  # noqa: S102 - our own generated code
    function: Callable[[Sequence[Any]], tuple[Any, int]] = scope["hash_row"]
    return function



def fine_bucket(key_hex: str) -> int:
    return int(key_hex[:BUCKET_DIGITS], 16) % FINE_BUCKETS


def key_bits(key_hex: str) -> int:
    """The first 64 bits of a key's hash: how the rows of differing buckets are matched."""
    return int(key_hex[:16], 16)


def fine_of_bits(bits: int) -> int:
    """``fine_bucket`` of a key from its first 64 bits."""
    return (bits >> 32) % FINE_BUCKETS


def bucket_count(rows: int) -> int:
    """Buckets for a table of ``rows`` rows: a power of two giving about ``ROWS_PER_BUCKET`` rows each."""
    wanted = max(1, -(-rows // ROWS_PER_BUCKET))
    count = 1
    while count < wanted and count < FINE_BUCKETS:
        count <<= 1
    return count


class Digests:
    """Per-bucket (rows, sum of values) of one side, kept at the finest resolution."""

    def __init__(self) -> None:
        self.counts = [0] * FINE_BUCKETS
        self.sums = [0] * FINE_BUCKETS
        self.rows = 0

    def add(self, key_hex: str, value: int) -> None:
        fine = fine_bucket(key_hex)
        self.counts[fine] += 1
        self.sums[fine] += value
        self.rows += 1

    def add_bits(self, bits: int, value: int) -> None:
        """``add`` for a row whose key is known by its first 64 bits (``RowHasher.bits``)."""
        fine = (bits >> 32) % FINE_BUCKETS
        self.counts[fine] += 1
        self.sums[fine] += value
        self.rows += 1

    def coarse(self, buckets: int) -> dict[int, tuple[int, int]]:
        """(rows, sum) of each non-empty bucket when there are ``buckets`` of them."""
        found: dict[int, tuple[int, int]] = {}
        for fine in range(FINE_BUCKETS):
            count = self.counts[fine]
            if count:
                bucket = fine % buckets
                rows, total = found.get(bucket, (0, 0))
                found[bucket] = (rows + count, total + self.sums[fine])
        return found


def differing(ours: dict[int, tuple[int, int]], theirs: dict[int, tuple[int, int]]) -> list[int]:
    """The buckets whose digests differ (present on one side only included), in order."""
    return sorted(b for b in set(ours) | set(theirs) if ours.get(b) != theirs.get(b))


def batches_of_buckets(buckets: Sequence[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """``buckets`` in groups whose ``sizes`` (rows expected) add up to about ``limit`` at most."""
    group: list[int] = []
    total = 0
    for bucket in buckets:
        size = sizes.get(bucket, 0)
        if group and total + size > limit:
            yield group
            group, total = [], 0
        group.append(bucket)
        total += size
    if group:
        yield group


class KeyedValues:
    """The target's rows of the differing buckets as (first 64 bits of the key's hash, row value),
    16 bytes a row: a million rows fit in 16 MB, so one read of the source settles every differing
    bucket. ``add`` them all, ``freeze``, then ``take`` each source row's key (None: not there);
    what was never taken is only in the target."""

    def __init__(self) -> None:
        self.keys = array("Q")
        self.values = array("Q")
        self.taken = bytearray()

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, bits: int, value: int) -> None:
        self.keys.append(bits)
        self.values.append(value)

    def freeze(self) -> None:
        """Sort by key (numpy, 24 bytes a row while sorting; a list of Python ints would take 100)."""
        import numpy as np

        keys = np.frombuffer(self.keys, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = array("Q", keys[order].tobytes())
        sorted_values = array("Q", np.frombuffer(self.values, dtype=np.uint64)[order].tobytes())
        del keys, order
        self.keys, self.values = sorted_keys, sorted_values
        self.taken = bytearray(len(self.keys))

    def take(self, bits: int) -> int | None:
        """The row value of the target row with this key, once; None when there is none."""
        at = bisect_left(self.keys, bits)
        if at < len(self.keys) and self.keys[at] == bits and not self.taken[at]:
            self.taken[at] = 1
            return self.values[at]
        return None

    def left(self) -> set[int]:
        """The keys never taken: target rows the source does not have."""
        return {self.keys[i] for i in range(len(self.keys)) if not self.taken[i]}
