"""Type fidelity through a sync, value by value, on real servers."""

from __future__ import annotations

import struct
import textwrap
import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from syncd import commands

LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LONG_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
MICRO_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def tables(metadata: sa.MetaData, name: str, key_type: sa.types.TypeEngine) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", key_type, primary_key=True, autoincrement=False),
        sa.Column("ts", MICRO_DATETIME),
        sa.Column("day", sa.Date),
        sa.Column("amount", sa.Numeric(18, 6)),
        sa.Column("name", sa.String(100)),
        sa.Column("rare", sa.String(100)),
        sa.Column("body", LONG_TEXT),
        sa.Column("picture", LONG_BLOB),
    )


def png() -> bytes:
    raw = b"".join(b"\x00" + bytes([x * 8 % 256, 0, 255 - x]) * 16 for x in range(16))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


MAPPING = """\
name: types
source: {table: src_types, key: [id], cursor: ts}
target: {table: dst_types, key: [id]}
lag: 0s
batch_size: 2
columns:
  id: {from: id}
  ts: {from: ts}
  day: {from: day}
  amount: {from: amount}
  name: {from: name}
  rare: {from: rare}
  body: {from: body}
  picture: {from: picture}
"""


def build(tmp_path, make_database, source_kind, target_kind):
    src, dst = make_database(source_kind), make_database(target_kind)
    source, target = sa.create_engine(src), sa.create_engine(dst)
    sm, tm = sa.MetaData(), sa.MetaData()
    source_table = tables(sm, "src_types", sa.Integer)
    target_table = tables(tm, "dst_types", sa.String(36))
    sm.create_all(source)
    tm.create_all(target)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "types.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        source: {{url: "{src}"}}
        target: {{url: "{dst}"}}
        state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
        """), encoding="utf-8")
    return source, target, source_table, target_table


def rows(base: datetime) -> list[dict]:
    body = ("安全风险分级管控与隐患排查治理双重预防机制。" * 3000)[:70_000]  # > 64 KB in UTF-8 many times over
    return [
        {"id": 1, "ts": base + timedelta(microseconds=123456), "day": date(2026, 2, 28), "amount": Decimal("12345.678901"),
         "name": "甲醇罐区液位巡检", "rare": "𠀀𪚥 😀 emoji", "body": body, "picture": png()},
        {"id": 2, "ts": base + timedelta(microseconds=123456), "day": None, "amount": None, "name": None,
         "rare": None, "body": None, "picture": None},
        {"id": 3, "ts": base + timedelta(seconds=1, microseconds=1), "day": date(1999, 12, 31),
         "amount": Decimal("-0.000001"), "name": "", "rare": "普通", "body": "", "picture": b""},
    ]


TYPE_PAIRS = [("mariadb", "mariadb"), ("postgresql", "mariadb"), ("mariadb", "postgresql"),
              ("postgresql", "postgresql"), ("sqlite", "mariadb")]


@pytest.mark.parametrize(("source_kind", "target_kind"), TYPE_PAIRS, ids=[f"{a}-to-{b}" for a, b in TYPE_PAIRS])
def test_values_survive_the_round_trip(tmp_path, make_database, source_kind, target_kind):
    source, target, source_table, target_table = build(tmp_path, make_database, source_kind, target_kind)
    base = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    with source.begin() as conn:
        conn.execute(source_table.insert(), rows(base))
    report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
    assert not report.failed, report.failed[0].error if report.failed else ""
    assert report.results[0].counts.rows_rejected == 0
    with source.connect() as conn:
        expected = {str(r["id"]): {**r, "id": str(r["id"])} for r in conn.execute(sa.select(source_table)).mappings()}
    with target.connect() as conn:
        actual = {r["id"]: dict(r) for r in conn.execute(sa.select(target_table)).mappings()}
    assert actual == expected
    assert actual["1"]["ts"].microsecond == 123456 and actual["1"]["picture"].startswith(b"\x89PNG")
    assert len(actual["1"]["body"].encode()) > 65_536
    source.dispose()
    target.dispose()


def test_four_byte_characters_into_a_utf8mb3_column_are_rejected_not_mangled(tmp_path, make_database):
    source, target, source_table, target_table = build(tmp_path, make_database, "mariadb", "mariadb")
    with target.begin() as conn:
        conn.execute(sa.text("ALTER TABLE dst_types MODIFY rare VARCHAR(100) CHARACTER SET utf8mb3"))
    base = datetime.now().replace(microsecond=0) - timedelta(hours=1)
    with source.begin() as conn:
        conn.execute(source_table.insert(), rows(base))
    report = commands.run_once(commands.open_project(tmp_path / "config.yaml"))
    result = report.results[0]
    assert result.status == "ok" and result.counts.rows_rejected == 1
    rejected = commands.rejects(commands.open_project(tmp_path / "config.yaml"))
    assert [r["source_key"] for r in rejected] == ['[{"t": "int", "v": "1"}]']
    assert rejected[0]["column_name"] == "rare" and "utf8mb4" in rejected[0]["reason"]
    with target.connect() as conn:
        assert sorted(conn.execute(sa.select(target_table.c.id)).scalars()) == ["2", "3"]
    source.dispose()
    target.dispose()
