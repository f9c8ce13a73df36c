"""The audit journal's records and their chain: the canonical form, the hashes, and the checks
behind ``syncd audit verify``. Pure: records in, findings out; the state store keeps the two
copies (the ``syncd_audit`` table and the JSON lines), this module only judges them.

A record is a flat JSON object (``FIELDS``). Its ``hash`` is SHA-256 over its canonical JSON
(sorted keys, no whitespace, UTF-8, ``ensure_ascii=False``, the ``hash`` field left out), or
HMAC-SHA256 with the key of ``audit.key_file`` (``alg`` says which; ``key_id`` names the key
without revealing it). Each record carries the hash of the one before (``prev_hash``; the first
record of a journal carries ``GENESIS``), so that editing, removing, inserting or reordering a
record breaks the chain at that record. Retention removes whole days from the start of the
journal and says so in an anchor record (``PRUNED``) holding the hash of the last record it
removed: the chain then starts at the record after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from syncd.i18n import _

GENESIS = "0" * 64
PLAIN = "sha256"
KEYED = "hmac-sha256"

#: Every field of a record (``hash`` besides); a field that does not apply is null.
FIELDS = ("seq", "time", "host", "user", "version", "config_hash", "mapping_hash", "mapping", "run_id", "kind",
          "window", "watermark_before", "watermark_after", "counts", "outcome", "error", "detail", "prev_hash",
          "alg", "key_id")

# Kinds of record.
RUN_START = "run.start"
RUN_END = "run.end"
CHECKPOINT = "checkpoint"
REJECT_NEW = "reject.new"
REJECT_RESOLVED = "reject.resolved"
REJECT_GONE = "reject.gone"
REJECT_DROPPED = "reject.dropped"
WATERMARK_SET = "watermark.set"
WATERMARK_RESET = "watermark.reset"
FILE_CHANGED = "file.changed"
PRUNED = "audit.pruned"
REBUILT = "state.rebuilt"
KINDS = (RUN_START, RUN_END, CHECKPOINT, REJECT_NEW, REJECT_RESOLVED, REJECT_GONE, REJECT_DROPPED, WATERMARK_SET,
         WATERMARK_RESET, FILE_CHANGED, PRUNED, REBUILT)

#: The JSON-lines files: one per day (the day of the record's time, in defaults.timezone).
FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Longest text kept in a record's error or reason (the state store keeps the rest).
MAX_TEXT = 2000


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: its JSON without ``hash``, sorted, compact, UTF-8."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def line(record: Mapping[str, Any]) -> str:
    """A record (``hash`` included) as one JSON line, without the newline."""
    return json.dumps(dict(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_id(key: bytes) -> str:
    """A name for an HMAC key that tells keys apart without revealing them."""
    return hashlib.sha256(b"syncd audit key\0" + key).hexdigest()[:16]


def seal(record: Mapping[str, Any], key: bytes | None) -> str:
    """The hash of ``record``: SHA-256 of its canonical form, or HMAC-SHA256 with ``key``."""
    data = canonical(record)
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cut(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut: {len(text)} characters in all)"


def new_record(kind: str, **fields: Any) -> dict[str, Any]:
    """A record of ``kind`` with every field present (null unless given)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(_("not a field of an audit record: {sorted}").format(sorted=', '.join(sorted(unknown))))
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(fields, kind=kind)
    return record


def day_of(time_text: str) -> str:
    """The day (``YYYY-MM-DD``) of a record's time, which names its JSON-lines file."""
    return time_text[:10]


def file_name(day: str) -> str:
    return f"{day}.jsonl"


def file_day(name: str) -> str | None:
    match = FILE_NAME.match(name)
    return match.group(1) if match else None


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``syncd audit head`` prints it; ValueError saying what is expected."""
    seq, sep, value = text.strip().partition(":")
    value = value.strip().lower()
    if not sep or not seq.strip().isdigit() or not _HEX64.match(value):
        raise ValueError(_("{text!r} is not a journal head: write SEQ:HASH as `syncd audit head` prints it, e.g. "
                           "1042:3f5a…(64 hex digits)").format(text=text))
    return int(seq), value


def parse_day(text: str) -> date:
    """A day written ``YYYY-MM-DD``; ValueError naming the format."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(_("{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-11-01").format(text=text)) from None


def watched_files(config_file: Path, folders: Iterable[Path]) -> dict[str, str]:
    """The files whose change the journal records: the config file and every YAML file in
    ``folders`` (the mappings and their code lists), by absolute path, with their SHA-256.
    A file that cannot be read is named with a hash of nothing read (``unreadable``)."""
    paths = [config_file]
    for folder in folders:
        if folder.is_dir():
            paths.extend(sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml")))
    found: dict[str, str] = {}
    for path in paths:
        try:
            found[str(path.resolve())] = digest(path.read_bytes())
        except OSError:
            found[str(path.resolve())] = "unreadable"
    return found


# -- reading the copies -------------------------------------------------------------------------

@dataclass
class Entry:
    """One record as read from one copy: ``record`` (with its ``hash``) or ``problem``."""

    where: str
    record: dict[str, Any] | None = None
    problem: str | None = None
    seq: int | None = None          # the sequence number, when it can be read even from a bad record
    day: str | None = None          # the day of the file it was read from (JSON lines)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def shape_problem(record: Any) -> str | None:
    """What makes ``record`` no journal record at all (a field missing or of the wrong type)."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    seq = _int(record.get("seq"))
    if seq is None or seq < 1:
        return f"its seq {record.get('seq')!r} is not a positive whole number"
    for name in ("hash", "prev_hash"):
        value = record.get(name)
        if not isinstance(value, str) or not _HEX64.match(value):
            return f"its {name} {value!r} is not 64 hexadecimal digits"
    time = record.get("time")
    if not isinstance(time, str):
        return f"its time {time!r} is not text"
    try:
        datetime.fromisoformat(time)
    except ValueError:
        return f"its time {time!r} is not a date and time"
    if not isinstance(record.get("kind"), str):
        return f"its kind {record.get('kind')!r} is not text"
    if record.get("alg") not in (PLAIN, KEYED):
        return f"its alg {record.get('alg')!r} is neither {PLAIN} nor {KEYED}"
    if record.get("detail") is not None and not isinstance(record.get("detail"), dict):
        return "its detail is not a JSON object"
    return None


def table_entry(row: Mapping[str, Any]) -> Entry:
    """A row of the ``syncd_audit`` table (seq, at, kind, mapping, run_id, record, prev_hash, hash)."""
    seq = _int(row.get("seq"))
    where = "table" if seq is None else f"table row seq {seq}"
    text = row.get("record")
    if not isinstance(text, str):
        return Entry(where, problem=_("its record is not text"), seq=seq)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return Entry(where, problem=_("its record is not valid JSON ({msg})").format(msg=exc.msg), seq=seq)
    if not isinstance(record, dict):
        return Entry(where, problem=_("its record is not a JSON object"), seq=seq)
    record = {**record, "hash": row.get("hash")}
    problem = shape_problem(record)
    if problem:
        return Entry(where, problem=problem, seq=seq)
    columns = {"seq": ("seq", seq if seq is not None else row.get("seq")), "at": ("time", row.get("at")),
               "kind": ("kind", row.get("kind")), "mapping": ("mapping", row.get("mapping")),
               "run_id": ("run_id", row.get("run_id")), "prev_hash": ("prev_hash", row.get("prev_hash"))}
    for column, (name, value) in columns.items():
        if record.get(name) != value:
            return Entry(where, problem=_("its column {column} ({value!r}) disagrees with its record ({name} {get!r})")
                                        .format(column=column, value=value, name=name, get=record.get(name)), seq=seq)
    return Entry(where, record=record, seq=record["seq"])


def line_entries(name: str, lines: Iterable[bytes]) -> Iterator[Entry]:
    """The records of one JSON-lines file, ``lines`` as read in binary (newline kept)."""
    day = file_day(name)
    for number, raw in enumerate(lines, 1):
        where = f"{name} line {number}"
        if not raw.strip():
            yield Entry(where, problem=_("is empty"), day=day)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield Entry(where, problem=_("is not UTF-8 text"), day=day)
            continue
        if not text.endswith("\n"):
            yield Entry(where, problem=_("is cut off (no end of line): the record was not completely written or the "
                                         "file was truncated"), seq=_seq_hint(text), day=day)
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Entry(where, problem=_("is not valid JSON ({msg}); cut "
                                         "off or edited").format(msg=exc.msg), seq=_seq_hint(text),
                        day=day)
            continue
        problem = shape_problem(record)
        if problem:
            yield Entry(where, problem=problem, seq=_int(record.get("seq")) if isinstance(record, dict) else None,
                        day=day)
            continue
        yield Entry(where, record=record, seq=record["seq"], day=day)


_SEQ = re.compile(r'"seq":(\d+)')


def _seq_hint(text: str) -> int | None:
    match = _SEQ.search(text)
    return int(match.group(1)) if match else None


# -- checking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One thing wrong: the record (by sequence number, when known), where it was read, what."""

    seq: int | None
    where: str
    message: str
    #: The newest records missing from the JSON lines only (a writer between its two writes).
    tail: bool = False

    def __str__(self) -> str:
        if self.seq is None:
            return f"{self.where}: {self.message}"
        return f"record {self.seq} ({self.where}): {self.message}"


@dataclass(frozen=True)
class Anchor:
    """A pruning record: records up to ``through_seq`` were removed; the last had ``through_hash``."""

    seq: int
    through_seq: int
    through_hash: str
    before: str
    #: The pruning record itself (with its hash), so that it can be checked before it is trusted.
    record: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def anchor_of(record: Mapping[str, Any]) -> Anchor | None:
    if record.get("kind") != PRUNED or not isinstance(record.get("detail"), dict):
        return None
    detail = record["detail"]
    through, value = _int(detail.get("through_seq")), detail.get("through_hash")
    if through is None or not isinstance(value, str):
        return None
    return Anchor(record["seq"], through, value, str(detail.get("before", "")), dict(record))


def seal_problem(record: Mapping[str, Any], key: bytes | None) -> str | None:
    """Why ``record``'s own hash does not vouch for it (with ``key``, the HMAC key of
    audit.key_file, or None), or None when it does."""
    if record["alg"] == KEYED:
        if key is None:
            return _("it is sealed with an HMAC key and audit.key_file is not set: set it to the key the journal was "
                     "written with")
        if record.get("key_id") != key_id(key):
            return _("it is sealed with another key (key id {get}; audit.key_file has key id "
                     "{key_id})").format(get=record.get('key_id'), key_id=key_id(key))
        expected = seal(record, key)
    else:
        expected = seal(record, None)
    if not hmac.compare_digest(expected, record["hash"]):
        return _("its content does not match its hash: the record was edited")
    return None


def trusted_anchors(anchors: Iterable[Anchor], key: bytes | None, *, first_seq: Any = None
                    ) -> tuple[list[Anchor], list[Finding]]:
    """The pruning records that may stand for the records they removed: each sealed as its own
    hash says (with the key, where it is sealed with one), written after the records it says it
    removed, and none of those still in the table (``first_seq``: the table's first record, read
    after the anchors; pruning deletes them in the transaction that writes its record). Every
    other one is named, and the chain is checked as if it did not exist."""
    trusted: list[Anchor] = []
    findings: list[Finding] = []
    for anchor in anchors:
        where = f"table row seq {anchor.seq}"
        problem = seal_problem(anchor.record, key)
        if problem is None and anchor.through_seq >= anchor.seq:
            problem = _("it says it removed the records up to {through_seq}, which come after it (a pruning record "
                        "is written after the records it removes)").format(through_seq=anchor.through_seq)
        if problem is None and isinstance(first_seq, int) and first_seq <= anchor.through_seq:
            problem = _("it says it removed the records up to {through_seq}, but record {first_seq} is still in the "
                        "table: records were put back, or the pruning record was "
                        "forged").format(through_seq=anchor.through_seq, first_seq=first_seq)
        if problem is None:
            trusted.append(anchor)
        else:
            findings.append(Finding(anchor.seq, where, _("pruning record not trusted: {problem}")
                                    .format(problem=problem)))
    return trusted, findings


class ChainCheck:
    """Feeds the records of one copy in the order they are stored; finds what breaks the chain.
    ``anchors``: the pruning records found trustworthy (``trusted_anchors``)."""

    def __init__(self, copy: str, *, key: bytes | None, anchors: Iterable[Anchor] = (),
                 before: Mapping[str, Any] | None = None):
        self.copy = copy
        self.key = key
        self.anchors = {a.through_seq: a for a in anchors}
        self.pruned_through = max(self.anchors, default=0)
        self.before = before                  # the record before the first one checked (--from)
        self.prev: dict[str, Any] | None = None
        self.first: dict[str, Any] | None = None
        self.keyed_seen: int | None = None
        self.count = 0
        self.findings: list[Finding] = []

    def _find(self, seq: int | None, where: str, message: str) -> None:
        self.findings.append(Finding(seq, where, message))

    def feed(self, entry: Entry) -> dict[str, Any] | None:
        """Check one entry; returns its record when it is sound enough to compare with the other copy."""
        if entry.problem is not None:
            # A record that cannot be read at all is named by its place: after the one before it.
            seq = entry.seq if entry.seq is not None else self.prev["seq"] + 1 if self.prev is not None else None
            self._find(seq, entry.where, entry.problem)
            return None
        record = entry.record
        assert record is not None
        seq = record["seq"]
        if seq <= self.pruned_through and (self.prev is None or self.prev["seq"] <= self.pruned_through):
            return None   # left over from a pruning cut off before it removed its files
        self.count += 1
        self._check_hash(record, entry.where)
        if entry.day is not None and day_of(record["time"]) != entry.day:
            self._find(seq, entry.where, _("its time {time} is not of the day its file "
                                           "is named after").format(time=record['time']))
        if self.prev is None:
            self.first = record
            if self.before is not None:
                self._link(record, self.before, entry.where)
        else:
            self._link(record, self.prev, entry.where)
        if self.prev is None or seq > self.prev["seq"]:
            self.prev = record
        return record

    def _check_hash(self, record: dict[str, Any], where: str) -> None:
        seq = record["seq"]
        if record["alg"] == KEYED:
            if self.keyed_seen is None:
                self.keyed_seen = seq
        elif self.keyed_seen is not None:
            self._find(seq, where, _("it has a plain SHA-256 hash although record {keyed_seen} before it is "
                                     "sealed with the key: the chain was "
                                     "recomputed without the key").format(keyed_seen=self.keyed_seen))
            return
        problem = seal_problem(record, self.key)
        if problem is not None:
            self._find(seq, where, problem)

    def _link(self, record: Mapping[str, Any], prev: Mapping[str, Any], where: str) -> None:
        seq, prev_seq = record["seq"], prev["seq"]
        if seq <= prev_seq:
            self._find(seq, where, _("it comes after record {prev_seq}: records are out of order, or it is a second "
                                     "copy of a record").format(prev_seq=prev_seq))
            return
        if seq > prev_seq + 1:
            missing = f"record {prev_seq + 1}" if seq == prev_seq + 2 else f"records {prev_seq + 1}..{seq - 1}"
            self._find(prev_seq + 1, where, _("{missing} missing: record {seq} follows record {prev_seq} in the "
                                              "{copy}")
                                            .format(missing=missing, seq=seq, prev_seq=prev_seq, copy=self.copy))
            return
        if record["prev_hash"] != prev["hash"]:
            self._find(seq, where, _("its prev_hash is not the hash of record {prev_seq}: record {prev_seq} was "
                                     "changed and its hash recomputed, or this record was "
                                     "put in its place").format(prev_seq=prev_seq))

    def finish(self) -> list[Finding]:
        """The start of the chain, once every record has been fed (anchors may come late)."""
        first = self.first
        newest = self.prev
        if newest is not None and self.key is not None and self.keyed_seen is None:
            # Records from before the key was set may be plain, but every record since is sealed
            # with it: a journal whose newest record is plain was recomputed without the key.
            self._find(newest["seq"], self.copy, _("no record is sealed with the key of audit.key_file: the chain "
                                                   "was recomputed without the key (or nothing has been journaled "
                                                   "since the key was set; then the next run seals with it)"))
        if first is not None and self.before is None:
            if first["seq"] == 1:
                if first["prev_hash"] != GENESIS:
                    self._find(1, self.copy, _("the first record does not start a chain (its prev_hash is not the "
                                               "genesis value): records before it were removed"))
            else:
                anchor = self.anchors.get(first["seq"] - 1)
                if anchor is None:
                    gap = "record 1" if first["seq"] == 2 else f"records 1..{first['seq'] - 1}"
                    self._find(1, self.copy, _("{gap} missing: the {copy} starts at record {seq} and no pruning "
                                               "record "
                                               "(audit.retention) covers the ones before")
                                             .format(gap=gap, copy=self.copy, seq=first['seq']))
                elif anchor.through_hash != first["prev_hash"]:
                    self._find(first["seq"], self.copy,
                               _("its prev_hash is not the hash that pruning record {seq} kept for record "
                                 "{through_seq}").format(seq=anchor.seq, through_seq=anchor.through_seq))
        return self.findings


def compare(table: Iterator[dict[str, Any]], files: Iterator[dict[str, Any]]) -> Iterator[Finding]:
    """Walk both copies in sequence order; name each record that is in one copy only or that
    differs between them. Both iterators yield sound records in the order they are stored."""
    t, f = next(table, None), next(files, None)
    while t is not None or f is not None:
        if f is None or (t is not None and t["seq"] < f["seq"]):
            assert t is not None
            yield Finding(t["seq"], "JSON lines", "it is in the state store's table but not in the JSON lines",
                          tail=f is None)
            t = next(table, None)
        elif t is None or f["seq"] < t["seq"]:
            yield Finding(f["seq"], "table", "it is in the JSON lines but not in the state store's table")
            f = next(files, None)
        else:
            if canonical(t) != canonical(f) or t["hash"] != f["hash"]:
                yield Finding(t["seq"], "table and JSON lines", "the two copies differ: one of them was edited")
            t, f = next(table, None), next(files, None)


@dataclass
class Verdict:
    """What ``syncd audit verify`` found."""

    findings: list[Finding] = field(default_factory=list)
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    keyed: bool = False

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def only_tail(self) -> bool:
        """Every finding is a newest record not yet in the JSON lines (worth a second look)."""
        return bool(self.findings) and all(f.tail for f in self.findings)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.seq is None, f.seq or 0))


def check_ends(last: tuple[Any, Any] | None, head_row: tuple[Any, Any] | None) -> list[Finding]:
    """Whether the state store's head row (``syncd_audit_head``: the seq and hash of the newest
    record, written with every record) names the newest record of the table (``last``: its seq and
    hash; None when the table is empty); the finding when it does not."""
    newest = last if last is not None else (0, GENESIS)
    if head_row is not None and head_row[0] == newest[0] and head_row[1] == newest[1]:
        return []
    where = "syncd_audit_head"
    if head_row is None:
        return [Finding(None, where, _("the head row is missing: it was deleted"))]
    seq = newest[0] if head_row[0] == newest[0] else None
    if seq is None and isinstance(head_row[0], int) and isinstance(newest[0], int):
        seq = min(head_row[0], newest[0]) + 1
    return [Finding(seq, where, _("the head row says the journal ends with record {head_seq} (hash {head_hash}), but "
                                  "the table ends with record {seq} (hash {hash}): the newest records were removed "
                                  "from the table, or the head row was changed")
                                .format(head_seq=head_row[0], head_hash=head_row[1], seq=newest[0], hash=newest[1]))]


def check_head(head: tuple[int, str], found: Mapping[str, Any] | None, *, last_seq: int | None,
               anchors: Iterable[Anchor]) -> Finding | None:
    """Whether the journal still reaches the head an auditor kept (``found``: the record with that
    sequence number in the table, or None)."""
    seq, value = head
    if found is not None:
        if found["hash"] != value:
            return Finding(seq, "table", f"its hash {found['hash']} is not the head you kept ({value}): the record "
                                         "was replaced")
        return None
    for anchor in anchors:
        if anchor.through_seq == seq:
            if anchor.through_hash == value:
                return None
            return Finding(seq, "table", f"pruning record {anchor.seq} kept hash {anchor.through_hash} for it, "
                                         f"not the head you kept ({value})")
    if last_seq is None or seq > last_seq:
        ends = "is empty" if last_seq is None else f"ends at record {last_seq}"
        return Finding(seq, "table", f"the journal {ends}: the records up to the head you kept have been removed")
    if any(seq <= a.through_seq for a in anchors):
        return Finding(seq, "table", "it has been pruned (audit.retention): its hash can no longer be compared "
                                     "with the head you kept; keep a newer head")
    return Finding(seq, "table", "it is missing from the journal")
