"""Two source keys the target takes for one, decided in the pure core (`RowMapper`): within a
batch, against the keys written earlier in the run, and against the keys the target returned for a
batch (`against_stored`). No database: the target's way of comparing keys is a `KeyForm`, as a
dialect reports it (tests/test_target_key_collisions.py runs the same against real servers).

Each test states the whole reason a reject carries, as the operator reads it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.dialects.base import KeyForm, text_form
from syncd.mapping import Mapping_, TableMapping
from syncd.plan import layout
from syncd.transform import RowMapper, TargetColumn

NOW = datetime(2026, 11, 28, 6, 0, 30, tzinfo=timezone.utc)
CI = text_form(pad=False, case=True, accents=False, why="collation utf8mb4_general_ci ignores case")
PADDED = text_form(pad=True, case=False, accents=False, why="CHAR(4) pads with spaces", fixed=True)
HELD = "this row is held back until the source has one row per target key"


def mapper(key: tuple[str, ...] = ("id",), forms: dict[str, KeyForm | None] | None = None,
           id_kind: str = "str") -> RowMapper:
    columns = {k: {"from": k} for k in key} | {"title": {"from": "title"}}
    spec = Mapping_.model_validate({"name": "items", "source": {"table": "src", "key": list(key), "cursor": "ts"},
                                    "target": {"table": "dp_items", "key": list(key)}, "columns": columns})
    table = TableMapping(spec=spec, file=Path("items.yaml"), batch_size=100, lookback=0, lag=timedelta(0),
                         null_cursor="include", schedule=None)
    targets = {k: TargetColumn(k, id_kind if k == "id" else "str", False, length=10) for k in key}
    targets["title"] = TargetColumn("title", "str", True, length=50)
    return RowMapper(table, layout(table), targets, {}, now=NOW, run_id="r", tz=ZoneInfo("Asia/Shanghai"),
                     key_forms={k: f for k, f in (forms or {}).items() if f is not None})


def read(m: RowMapper, *rows: dict[str, str]) -> list[tuple[object, ...]]:
    """Source rows as the source hands them over, in the mapping's layout."""
    return [tuple({"ts": NOW, **row}[name] for name in m.layout.names) for row in rows]


def rejects(batch) -> list[tuple[tuple[object, ...], str]]:
    return [(r.key, r.reason) for r in batch.rejects]


def test_two_source_keys_of_one_target_key_in_a_batch_are_both_held_back_and_the_rest_written():
    m = mapper(forms={"id": CI})
    batch = m.map_batch(read(m, {"id": "c", "title": "lower"}, {"id": "C", "title": "upper"},
                             {"id": "d", "title": "d"}))
    assert batch.rows == [("d", "d")] and batch.keys == [("d",)]
    both = ("key not unique in the target: 2 source rows (id='c', id='C') have target key id={!r}, which the "
            "target takes for one (collation utf8mb4_general_ci ignores case); all held back until the source "
            "has one row per target key")
    assert rejects(batch) == [(("c",), both.format("c")), (("C",), both.format("C"))]
    assert [r.row for r in batch.rejects] == [{"id": "c", "ts": NOW, "title": "lower"},
                                              {"id": "C", "ts": NOW, "title": "upper"}]


def test_a_target_that_keeps_the_case_is_asked_and_not_remembered():
    """A case-insensitive collation keeps the case a key was written with: the run asks the target
    for its stored keys (`against_stored`) instead of remembering every key of the run."""
    m = mapper(forms={"id": CI})
    assert m.checks_stored_keys
    m.map_batch(read(m, {"id": "d", "title": "d"}))
    later = m.map_batch(read(m, {"id": "D", "title": "D"}, {"id": "e", "title": "e"}))
    assert later.rows == [("D", "D"), ("e", "e")] and later.rejects == []


def test_a_key_the_target_holds_from_another_source_key_is_held_back():
    m = mapper(forms={"id": CI})
    batch = m.map_batch(read(m, {"id": "x", "title": "x"}, {"id": "y", "title": "y"}))
    checked = m.against_stored(batch, [("X",), ("y",)])
    assert checked.rows == [("y", "y")] and checked.keys == [("y",)] and checked.sources == batch.sources[1:]
    assert rejects(checked) == [(("x",), "key not unique in the target: it holds id='X', written from another "
                                         "source key, and takes target key id='x' for the same (collation "
                                         f"utf8mb4_general_ci ignores case); {HELD}")]
    assert checked.rejects[0].row == {"id": "x", "ts": NOW, "title": "x"}
    # nothing stored, or only keys of other rows, or the same keys as sent: the batch as it was
    assert m.against_stored(batch, []) is batch
    assert m.against_stored(batch, [("z",)]) is batch
    assert m.against_stored(batch, [("x",), ("y",)]) is batch


def test_a_two_column_key_is_compared_whole_against_the_stored_keys():
    m = mapper(key=("id", "k2"), forms={"id": CI})
    batch = m.map_batch(read(m, {"id": "a", "k2": "1", "title": "t1"}, {"id": "b", "k2": "1", "title": "t2"}))
    checked = m.against_stored(batch, [("A", "1"), ("b", "2")])
    assert checked.rows == [("b", "1", "t2")]
    assert rejects(checked) == [(("a", "1"), "key not unique in the target: it holds id='A', k2='1', written from "
                                             "another source key, and takes target key id='a', k2='1' for the same "
                                             f"(collation utf8mb4_general_ci ignores case); {HELD}")]


def test_a_padded_key_written_earlier_in_the_run_holds_back_the_same_key_with_spaces():
    """CHAR(n) keeps no trailing spaces: the target cannot tell which source key wrote a row, so
    the run remembers the keys it wrote."""
    m = mapper(forms={"id": PADDED})
    assert not m.checks_stored_keys
    assert m.map_batch(read(m, {"id": "b", "title": "b"}, {"id": "e", "title": "e"})).rows == [("b", "b"), ("e", "e")]
    later = m.map_batch(read(m, {"id": "b ", "title": "b-pad"}, {"id": "f", "title": "f"}))
    assert later.rows == [("f", "f")]
    assert rejects(later) == [(("b ",), "key not unique in the target: the row of id='b' written earlier in this run "
                                        "has target key id='b ' too, which the target takes for one (CHAR(4) pads "
                                        "with spaces); this one is held back until the source has one row per target "
                                        "key")]


def test_keys_a_cast_makes_one_are_held_back_in_a_batch_and_across_batches():
    """'3' and '003' into an integer key are both 3; '01' after '1' is 1 again."""
    m = mapper(id_kind="int")
    first = m.map_batch(read(m, {"id": "1", "title": "one"}, {"id": "3", "title": "three"},
                             {"id": "003", "title": "zero-zero-three"}))
    assert first.rows == [(1, "one")]
    both = ("key not unique in the target: 2 source rows (id='3', id='003') have target key id=3, which the target "
            "takes for one; all held back until the source has one row per target key")
    assert rejects(first) == [(("3",), both), (("003",), both)]
    later = m.map_batch(read(m, {"id": "01", "title": "zero-one"}, {"id": "2", "title": "two"}))
    assert later.rows == [(2, "two")]
    assert rejects(later) == [(("01",), "key not unique in the target: the row of id='1' written earlier in this run "
                                        "has target key id=1 too, which the target takes for one; this one is held "
                                        "back until the source has one row per target key")]
