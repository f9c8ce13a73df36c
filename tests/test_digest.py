"""Reconcile's digests: the canonical text of every column kind is the same in Python and in each
database's SQL (syncd/digest.py, the dialects' ``digest_piece_sql``), on real MariaDB and
PostgreSQL columns written through syncd's own upsert; Oracle's SQL is compiled only."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, oracle, postgresql

from syncd import dialects
from syncd.digest import (
    FINE_BUCKETS,
    GROUP,
    DigestPlan,
    Digests,
    HashColumn,
    KeyedValues,
    RowHasher,
    bucket_count,
    differing,
    fine_bucket,
    fine_of_bits,
    key_bits,
    piece_function,
    row_text,
    trim_zeros,
)
from syncd.target import Target


def piece(kind: str, value, **options) -> str:
    return piece_function(HashColumn("c", kind, **options))(value)


def test_the_canonical_text_of_each_kind():
    assert piece("str", "记录|1") == "4:记录|1" and piece("str", "") == "" and piece("str", None) == ""
    assert piece("text", "中" * 600, prefix=500).startswith("600:") and len(piece("text", "x", prefix=500)) == 34
    assert piece("int", -42) == "-42" and piece("int", 0) == "0" and piece("int", 2 ** 62) == str(2 ** 62)
    assert piece("decimal", Decimal("1.5"), scale=2) == "1.50"
    assert piece("decimal", Decimal("1.555"), scale=2) == "1.56"           # half away from zero, as DECIMAL
    assert piece("decimal", Decimal("-1.555"), scale=2) == "-1.56"
    assert piece("decimal", Decimal("-0.004"), scale=2) == "0.00"          # no negative zero in a column
    assert piece("decimal", 7, scale=0) == "7"
    assert piece("decimal", Decimal("1.500")) == "1.5" and piece("decimal", Decimal("2.00")) == "2"
    moment = datetime(2026, 1, 2, 3, 4, 5, 600000)
    assert piece("datetime", moment, fraction=0) == "2026-01-02 03:04:06"                  # rounded
    assert piece("datetime", moment, fraction=0, rounds=False) == "2026-01-02 03:04:05"    # cut off (MariaDB)
    assert piece("datetime", moment, fraction=6) == "2026-01-02 03:04:05.600000"
    assert piece("datetime", moment, fraction=3) == "2026-01-02 03:04:05.600000"
    assert piece("datetime", datetime(999, 1, 1), fraction=0) == "0999-01-01 00:00:00"
    assert piece("date", date(999, 12, 31)) == "0999-12-31"
    assert piece("bool", True) == "1" and piece("bool", False) == "0" and piece("bool", None) == ""
    assert piece("bytes", b"") == "" and piece("bytes", b"\x00") == "93b885adfe0da089cdf634904fd59f71"
    assert piece("bytes", b"\x00" * 3000, prefix=2000).startswith("3000:")
    assert trim_zeros("10.000") == "10" and trim_zeros("100") == "100"


def test_a_row_of_more_than_a_group_of_pieces_is_hashed_by_groups():
    pieces = [str(i) for i in range(GROUP * 2 + 3)]
    text = row_text(pieces)
    assert text.count("|") == 2 and all(len(part) == 32 for part in text.split("|"))
    assert row_text(["a", "", "b"]) == "a||b"


def test_the_fast_hash_is_the_plain_definition():
    """The generated hash function takes shortcuts for usual values: it must give what the piece
    functions give, for every kind and for values of unexpected types."""
    columns = [HashColumn("s", "str"), HashColumn("t", "text", prefix=500), HashColumn("i", "int"),
               HashColumn("d", "decimal", scale=2), HashColumn("d9", "decimal", scale=9), HashColumn("dn", "decimal"),
               HashColumn("dt", "datetime", fraction=0), HashColumn("dt6", "datetime", fraction=6),
               HashColumn("dt0", "datetime", fraction=0, rounds=False), HashColumn("da", "date"),
               HashColumn("b", "bytes"), HashColumn("f", "bool")]
    pick = random.Random(11)
    choices = {
        "str": ["", None, "a|b", "记录", "😀", 5], "text": ["", None, "长" * 700, "x"],
        "int": [None, 0, -5, 2 ** 63, True],
        "decimal": [None, Decimal("1.5"), Decimal("1.50"), Decimal("-0.00"), Decimal("1E+2"), 3,
                    Decimal("0.000000001")],
        "datetime": [None, datetime(2026, 1, 1, 1, 1, 1), datetime(2026, 1, 1, 1, 1, 1, 999999), date(2026, 1, 1)],
        "date": [None, date(2026, 1, 1), datetime(2026, 1, 1)], "bytes": [None, b"", b"\x00\xff", bytearray(b"x")],
        "bool": [None, True, False, 1, 0],
    }
    for key in ([columns[0]], [columns[2], columns[6]]):
        hasher = RowHasher(columns, range(len(columns)), key, [columns.index(k) for k in key])
        for _ in range(500):
            values = tuple(pick.choice(choices[c.kind]) for c in columns)
            key_hex, value = hasher.hash(values)
            assert (key_hex, value) == (hasher.key_hex(values), hasher.value(values)), values
            assert hasher.bits(values) == (key_bits(key_hex), value)
            assert fine_of_bits(key_bits(key_hex)) == fine_bucket(key_hex)


def test_keyed_values_match_each_key_once():
    theirs = KeyedValues()
    for bits, value in [(5, 50), (1, 10), (2 ** 64 - 1, 7), (3, 30)]:
        theirs.add(bits, value)
    theirs.freeze()
    assert len(theirs) == 4 and theirs.take(3) == 30 and theirs.take(3) is None and theirs.take(4) is None
    assert theirs.take(2 ** 64 - 1) == 7 and theirs.left() == {1, 5}


def test_digests_and_buckets():
    ours, theirs = Digests(), Digests()
    for i in range(1000):
        ours.add(f"{i:08x}" + "0" * 24, i)
        theirs.add(f"{i:08x}" + "0" * 24, i if i != 500 else 501)
    assert ours.coarse(1) == {0: (1000, sum(range(1000)))}
    coarse = ours.coarse(16)
    assert sum(n for n, _ in coarse.values()) == 1000 and set(coarse) == set(range(16))
    assert differing(ours.coarse(16), theirs.coarse(16)) == [500 % 16]
    assert differing({1: (1, 1)}, {2: (1, 1)}) == [1, 2]
    assert bucket_count(0) == 1 and bucket_count(100) == 1 and bucket_count(101) == 2
    assert bucket_count(200_000) == 2048 and bucket_count(10 ** 9) == FINE_BUCKETS


# -- the same text in SQL, on real columns -----------------------------------------------------

#: values written into each kind of column (by syncd's write path), with the awkward ones
VALUES = [
    ("1", "中文 abc|'\\", "长" * 3000, -5, Decimal("1.5"), Decimal("1.25"), datetime(2026, 1, 2, 3, 4, 5),
     datetime(2026, 1, 2, 3, 4, 5, 120000), date(2026, 12, 31), b"\x00\x89PNG", True),
    ("2", "", None, None, None, None, None, None, None, b"", None),
    ("3", "😀 emoji", "", 2 ** 40, Decimal("-0.004"), Decimal("10.000"), datetime(2026, 1, 2, 3, 4, 5, 600000),
     datetime(2026, 1, 2, 3, 4, 5, 1), date(999, 1, 2), None, False),
    ("4", None, "x", 0, Decimal("1.555"), Decimal("0.5"), datetime(1999, 12, 31, 23, 59, 59, 400000),
     datetime(2000, 1, 1), date(2000, 2, 29), b"\xff" * 5000, True),
]
NAMES = ["id", "s", "tx", "i", "d", "dn", "dt", "dt6", "da", "b", "flag"]


def kinds_table(kind: str) -> sa.Table:
    big = sa.BigInteger()
    stamp6 = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    stamp0 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=0), "postgresql")
    unscaled = sa.Numeric(20, 6) if kind == "mariadb" else sa.Numeric()     # MySQL has no unscaled DECIMAL
    flag = sa.Boolean() if kind == "postgresql" else sa.Integer()
    return sa.Table("kinds", sa.MetaData(),
                    sa.Column("id", sa.String(36), primary_key=True), sa.Column("s", sa.String(100)),
                    sa.Column("tx", sa.Text), sa.Column("i", big), sa.Column("d", sa.Numeric(12, 2)),
                    sa.Column("dn", unscaled), sa.Column("dt", stamp0), sa.Column("dt6", stamp6),
                    sa.Column("da", sa.Date), sa.Column("b", dialects.large_binary()), sa.Column("flag", flag))


def written(make_database, kind: str) -> tuple[Target, list[HashColumn]]:
    """A target table with a column of each kind, the VALUES written by syncd's upsert."""
    engine = sa.create_engine(make_database(kind))
    table = kinds_table(kind)
    table.create(engine)
    dialect = dialects.get(engine.dialect.name)
    target = Target(engine, dialect)
    described = target.columns("kinds", None)
    types = target.column_types("kinds", None)
    assert described is not None
    kinds = [described[n].kind for n in NAMES]
    upsert = dialect.upsert(engine.dialect, "kinds", None, NAMES, ["id"], NAMES[1:])
    with engine.connect() as conn:
        upsert = dialect.prepare(conn, upsert)
    rows = [tuple(int(v) if k == "int" and isinstance(v, bool) else v for v, k in zip(row, kinds, strict=True))
            for row in VALUES]
    target.write(upsert, rows, kinds)
    columns = [HashColumn(n, described[n].kind, described[n].scale, described[n].precision,
                          dialect.datetime_fraction(types[n]) if described[n].kind == "datetime" else 6,
                          dialect.rounds_fractions(engine.dialect), dialect.digest_prefix(described[n].kind))
               for n in NAMES]
    return target, columns


@pytest.mark.parametrize("kind", ["mariadb", "postgresql"])
def test_each_kind_has_the_same_text_in_sql_as_in_python(make_database, kind):
    target, columns = written(make_database, kind)
    dialect, engine = target.dialect, target.engine
    expected_kinds = {"str", "text", "int", "decimal", "datetime", "date", "bytes"} | (
        {"bool"} if kind == "postgresql" else set())
    assert {c.kind for c in columns} == expected_kinds
    fractions = {c.name: c.fraction for c in columns if c.kind == "datetime"}
    assert fractions == {"dt": 0, "dt6": 6}
    pieces = ", ".join(dialect.digest_piece_sql(dialect.quote(engine.dialect, c.name), c) for c in columns)
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.text(f"SELECT {pieces} FROM kinds ORDER BY id"))]
    for values, in_sql in zip(VALUES, stored, strict=True):
        in_python = tuple(piece_function(c)(v) for c, v in zip(columns, values, strict=True))
        for c, py, db in zip(columns, in_python, in_sql, strict=True):
            assert py == db, f"{kind} column {c.name} ({c.kind}) of row {values[0]}: python {py!r}, sql {db!r}"
    # the whole row and its bucket too: the database's digests equal those of the values as written
    digest = DigestPlan("kinds", None, tuple(columns), (columns[0],))
    hasher = RowHasher(columns, range(len(columns)), [columns[0]], [0])
    ours = Digests()
    for values in VALUES:
        ours.add(*hasher.hash(values))
    for buckets in (1, 4, FINE_BUCKETS):
        assert target.bucket_digests(digest, buckets, batch_size=10) == ours.coarse(buckets)
    rows = {kh: (value, key) for kh, value, key in target.bucket_rows(digest, 4, range(4))}
    assert {kh: v for kh, (v, _) in rows.items()} == {hasher.hash(v)[0]: hasher.hash(v)[1] for v in VALUES}
    assert sorted(key for _, key in rows.values()) == [(v[0],) for v in VALUES]
    assert {key for _, _, key in target.bucket_rows(digest, 4, range(4), with_key=False)} == {()}
    engine.dispose()


def test_sqlite_hashes_its_rows_in_python(make_database):
    target, columns = written(make_database, "sqlite")
    assert not target.dialect.digest_in_database
    digest = DigestPlan("kinds", None, tuple(columns), (columns[0],), scope="id <> '4'")
    hasher = RowHasher(columns, range(len(columns)), [columns[0]], [0])
    ours = Digests()
    for values in VALUES[:3]:
        ours.add(*hasher.hash(tuple(int(v) if isinstance(v, bool) else v for v in values)))
    assert target.bucket_digests(digest, 2, batch_size=10) == ours.coarse(2)
    target.engine.dispose()


def test_rows_marked_deleted_are_left_out_in_sql(make_database):
    """``on_source_delete: {set: ...}``: rows whose marking columns hold the set values are left out."""
    for kind in ("mariadb", "postgresql", "sqlite"):
        target, columns = written(make_database, kind)
        marked = ((columns[3], "0"),)       # i = 0: row 4
        digest = DigestPlan("kinds", None, tuple(columns), (columns[0],), marked=marked)
        found = target.bucket_digests(digest, 1, batch_size=10)
        assert found[0][0] == 3, kind
        target.engine.dispose()


# -- Oracle: compiled only ----------------------------------------------------------------------

def oracle_columns() -> list[HashColumn]:
    ora = dialects.get("oracle")
    return [HashColumn(name, kind, scale, precision, fraction, False, ora.digest_prefix(kind))
            for name, kind, scale, precision, fraction in [
                ("id", "str", None, None, 6), ("title", "str", None, None, 6), ("body", "text", None, None, 6),
                ("n", "int", None, None, 6), ("amount", "decimal", 2, 12, 6), ("ratio", "decimal", None, None, 6),
                ("created", "datetime", None, None, 0), ("stamp", "datetime", None, None, 6),
                ("day", "date", None, None, 6), ("image", "bytes", None, None, 6)]]


@pytest.mark.parametrize(("version", "function"), [((11, 2, 0, 4), "DBMS_OBFUSCATION_TOOLKIT.MD5(input => "),
                                                   ((19, 3), "STANDARD_HASH(")])
def test_oracle_digest_sql_uses_functions_that_need_no_grant(version, function):
    ora = dialects.get("oracle")
    columns = oracle_columns()
    digest = DigestPlan("dp_risk_map", "fep", tuple(columns), (columns[0],), scope="check_record_id IS NOT NULL",
                        marked=((columns[1], "3:已删除"),))
    statements = [ora.bucket_digests_sql(oracle.dialect(), digest, 2048, version),
                  ora.bucket_rows_sql(oracle.dialect(), digest, 2048, [3, 1, 2], True, version)]
    for sql in statements:
        compiled = str(sa.text(sql).compile(dialect=oracle.dialect()))
        assert compiled == sql and sql.count("(") == sql.count(")")
        assert function in sql and "DBMS_CRYPTO" not in sql and "ORA_HASH" not in sql
        assert ("STANDARD_HASH" in sql) == (version[0] >= 12)
        assert "UTL_I18N.STRING_TO_RAW(SUBSTR(title, 1, 500), 'AL32UTF8')" in sql       # text: a prefix, UTF-8
        assert "DBMS_LOB.SUBSTR(body, 500, 1)" in sql and "DBMS_LOB.SUBSTR(image, 2000, 1)" in sql
        assert "TO_CHAR(amount, 'FM9999999990.00')" in sql and "'YYYY-MM-DD HH24:MI:SS'" in sql
        assert "TO_NUMBER(UPPER(SUBSTR(" in sql and "MOD(" in sql and "fep.dp_risk_map" in sql
        assert "(check_record_id IS NOT NULL)" in sql and "'#3:已删除'" in sql
    assert statements[1].endswith("IN (1, 2, 3))")
    many = ora.bucket_rows_sql(oracle.dialect(), digest, 4096, range(2500), False, version)
    lists = [part.split(")")[0].count(",") + 1 for part in many.split(" IN (")[1:]]
    assert lists == [1000, 1000, 500]
    assert " IN (" not in ora.bucket_rows_sql(oracle.dialect(), digest, 4, range(4), False, version)


def test_oracle_hashes_a_wide_row_in_groups_of_pieces():
    ora = dialects.get("oracle")
    pieces = [f"p{i}" for i in range(GROUP + 5)]
    sql = ora.row_hash_sql(pieces, (19,))
    assert sql.count("STANDARD_HASH(") == 3      # two groups, then the row
