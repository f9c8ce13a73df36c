"""A small source table, target table and mapping on any pair of backends, for end-to-end tests.

The source looks like a county check-record table (integer id, a code stored as a Chinese label,
an update time, a soft-delete flag); the target like an intermediate table (string id, code,
sync stamps). Tests drive it through ``syncd.commands`` exactly as the CLI does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncd import commands

source_meta = sa.MetaData()
src_record = sa.Table(
    "src_record", source_meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("jg", sa.String(20)),
    sa.Column("title", sa.String(200)),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("update_time", sa.DateTime, index=True),
    sa.Column("del_flag", sa.String(1), nullable=False, server_default="0"),
)

target_meta = sa.MetaData()
dp_record = sa.Table(
    "dp_record", target_meta,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("check_status", sa.String(2), nullable=False),
    sa.Column("title", sa.String(200)),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("update_time", sa.DateTime),
    sa.Column("sync_time", sa.DateTime),
    sa.Column("run_id", sa.String(40)),
)

CODES = """\
name: check_status
title: 排查结果
codes:
  - {code: "0", label: 正常, aliases: [无隐患]}
  - {code: "1", label: 存在隐患, aliases: [有隐患]}
  - {code: "2", label: 未排查}
"""


def mapping_yaml(*, null_cursor: str = "include", batch_size: int = 2000, lookback: str = "10m",
                 unknown: str = "reject", columns: Mapping[str, str] | None = None) -> str:
    """The scenario's mapping; ``columns`` replaces the spec of the named target columns, e.g.
    ``{"title": "{from: title, update: false}"}``."""
    specs = {
        "id": "{from: id}",
        "check_status": f"{{from: jg, map: check_status, unknown: {unknown}}}",
        "title": "{from: title}",
        "amount": "{from: amount}",
        "update_time": "{from: update_time}",
        "sync_time": "{value: now}",
        "run_id": "{value: run_id}",
        **(columns or {}),
    }
    column_lines = "".join(f"  {name + ':':<14}{spec}\n" for name, spec in specs.items())
    return textwrap.dedent(f"""\
        name: record
        source:
          table: src_record
          key: [id]
          cursor: update_time
          where: "del_flag = '0'"
          null_cursor: {null_cursor}
        target:
          table: dp_record
          key: [id]
        batch_size: {batch_size}
        lookback: {lookback}
        lag: 0s
        columns:
        """) + column_lines


REFUSAL = "refused by the province"
REFUSE_INSERT = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON dp_record WHEN NEW.id = '{key}' "
               f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"IF NEW.id = '{{key}}' THEN RAISE EXCEPTION '{REFUSAL}'; END IF; RETURN NEW; END $$",
                   "CREATE TRIGGER refuse BEFORE INSERT ON dp_record FOR EACH ROW EXECUTE FUNCTION refuse()"],
    "mysql": ["CREATE TRIGGER refuse BEFORE INSERT ON dp_record FOR EACH ROW BEGIN "
              f"IF NEW.id = '{{key}}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{REFUSAL}'; END IF; END"],
}
REFUSE_KEY_UPDATE = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE UPDATE OF id ON dp_record "
               f"BEGIN SELECT RAISE(ABORT, 'key update {REFUSAL}'); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"RAISE EXCEPTION 'key update {REFUSAL}'; END $$",
                   "CREATE TRIGGER refuse BEFORE UPDATE OF id ON dp_record FOR EACH ROW EXECUTE FUNCTION refuse()"],
}
# The target fails the whole write when row ``key`` comes (not a refusal of that row: syncd can do
# nothing but fail the mapping's run and read the batch again next time).
FAIL_INSERT = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON dp_record WHEN NEW.id = '{key}' "
               f"BEGIN INSERT INTO \"{REFUSAL}\" VALUES (1); END"],
    "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"IF NEW.id = '{{key}}' THEN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = '42501'; END IF; "
                   "RETURN NEW; END $$",
                   "CREATE TRIGGER refuse BEFORE INSERT ON dp_record FOR EACH ROW EXECUTE FUNCTION refuse()"],
    "mysql": ["CREATE TRIGGER refuse BEFORE INSERT ON dp_record FOR EACH ROW BEGIN "
              f"IF NEW.id = '{{key}}' THEN SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1142, "
              f"MESSAGE_TEXT = '{REFUSAL}'; END IF; END"],
}
DROP_REFUSAL = {
    "sqlite": ["DROP TRIGGER refuse"],
    "postgresql": ["DROP TRIGGER refuse ON dp_record", "DROP FUNCTION refuse()"],
    "mysql": ["DROP TRIGGER refuse"],
}


class Scenario:
    def __init__(self, tmp_path: Path, source_url: str, target_url: str, *, defaults: str = "",
                 create_target: bool = True, **mapping_options: Any):
        self.dir = tmp_path
        self.source = sa.create_engine(source_url)
        self.target = sa.create_engine(target_url)
        source_meta.drop_all(self.source)
        source_meta.create_all(self.source)
        if create_target:
            target_meta.drop_all(self.target)
            target_meta.create_all(self.target)
        (tmp_path / "mappings" / "codes").mkdir(parents=True, exist_ok=True)
        (tmp_path / "mappings" / "codes" / "check_status.yaml").write_text(CODES, encoding="utf-8")
        self.write_mapping(**mapping_options)
        (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
            source: {{url: "{source_url}"}}
            target: {{url: "{target_url}"}}
            state: {{url: "sqlite:///{tmp_path / 'state.db'}"}}
            mappings: mappings
            defaults: {{retries: 2, retry_wait: 0.05s, retry_wait_max: 0.2s{", " + defaults if defaults else ""}}}
            """), encoding="utf-8")
        self.base = self.source_now() - timedelta(hours=2)

    def write_mapping(self, **options: Any) -> None:
        (self.dir / "mappings" / "record.yaml").write_text(mapping_yaml(**options), encoding="utf-8")

    def project(self) -> commands.Project:
        return commands.open_project(self.dir / "config.yaml")

    def run(self, *, settle: bool = True, **kwargs: Any) -> commands.RunReport:
        """One ``run --once``. With ``settle``, first wait (30 s at most) until no other session's write
        transaction is open on the source server: the test servers are shared, and another test's
        transaction (a killed process's rollback, say) rightly holds the window's bound before it
        began, which would leave a row this test just wrote for the run after."""
        if settle:
            self.settle()
        return commands.run_once(self.project(), **kwargs)

    def settle(self, timeout: float = 30.0) -> None:
        from syncd import dialects

        dialect = dialects.get(self.source.dialect.name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.source.connect() as conn:
                _visible, started = dialect.open_since(conn)
            if started is None:
                return
            time.sleep(0.1)

    def source_now(self) -> datetime:
        from syncd import dialects

        with self.source.connect() as conn:
            now = conn.execute(dialects.get(self.source.dialect.name).clock_select()).one()[0]
        return now if isinstance(now, datetime) else datetime.fromisoformat(now)

    def now(self) -> datetime:
        """The source clock now, to the second: the cursor an application stamps on a row it writes now."""
        return self.source_now().replace(microsecond=0)

    def at(self, seconds: float) -> datetime:
        """A cursor value ``seconds`` after the scenario's base time (two hours before the source clock)."""
        return self.base.replace(microsecond=0) + timedelta(seconds=seconds)

    def insert(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = [{"jg": "正常", "title": f"记录{r['id']}", "amount": Decimal("1.50"), "del_flag": "0", **r}
                for r in rows]
        with self.source.begin() as conn:
            conn.execute(src_record.insert(), rows)

    def update(self, ids: Iterable[int], **values: Any) -> None:
        with self.source.begin() as conn:
            conn.execute(src_record.update().where(src_record.c.id.in_(list(ids))).values(**values))

    def expected(self) -> dict[str, dict[str, Any]]:
        """What the target must hold: the source rows that pass the mapping's filter, mapped."""
        codes = {"正常": "0", "无隐患": "0", "合格": "0", "存在隐患": "1", "有隐患": "1", "未排查": "2"}
        with self.source.connect() as conn:
            rows = conn.execute(sa.select(src_record).where(src_record.c.del_flag == "0")).mappings().all()
        return {str(r["id"]): {"check_status": codes.get(r["jg"]), "title": r["title"], "amount": r["amount"],
                               "update_time": r["update_time"]} for r in rows}

    def actual(self) -> dict[str, dict[str, Any]]:
        with self.target.connect() as conn:
            rows = conn.execute(sa.select(dp_record)).mappings().all()
        return {r["id"]: {"check_status": r["check_status"], "title": r["title"], "amount": r["amount"],
                          "update_time": r["update_time"]} for r in rows}

    def target_ids(self) -> list[str]:
        """Every key in the target, sorted, duplicates included."""
        with self.target.connect() as conn:
            return sorted(conn.execute(sa.select(dp_record.c.id)).scalars())

    def reject_keys(self, status: str | None = "pending") -> set[str]:
        """The source keys of the mapping's rejects in the state store with ``status`` (None: any)."""
        return {r["key"] for r in commands.rejects(self.project(), status_=status)}

    def syncd(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``syncd -c CONFIG ARGS...`` in a fresh process, as an operator or systemd runs it."""
        return subprocess.run([sys.executable, "-m", "syncd", "-c", str(self.dir / "config.yaml"), *args],
                              capture_output=True, text=True, timeout=300, cwd=self.dir,
                              env={**os.environ, **(env or {})})

    def refuse_insert_of(self, key: int) -> None:
        """From now on the target refuses to insert row ``key``: a trigger of the province's that the
        mapping knows nothing of (``allow_again`` drops it)."""
        self._target_ddl(REFUSE_INSERT, key=key)

    def fail_insert_of(self, key: int) -> None:
        """From now on the target fails the whole write that brings row ``key``, with an error that
        is not about the row (``allow_again`` drops it)."""
        self._target_ddl(FAIL_INSERT, key=key)

    def refuse_key_updates(self) -> None:
        """From now on the target refuses any UPDATE that sets its key column, even to the same value
        (SQLite and PostgreSQL: MariaDB has no per-column UPDATE triggers)."""
        self._target_ddl(REFUSE_KEY_UPDATE)

    def allow_again(self) -> None:
        """Drop the trigger ``refuse_insert_of`` or ``refuse_key_updates`` made."""
        self._target_ddl(DROP_REFUSAL)

    def _target_ddl(self, statements: Mapping[str, list[str]], **values: Any) -> None:
        with self.target.begin() as conn:
            for statement in statements[self.target.dialect.name]:
                conn.execute(sa.text(statement.format(**values)))

    def target_count(self) -> int:
        with self.target.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(dp_record)).scalar()

    def dispose(self) -> None:
        self.source.dispose()
        self.target.dispose()


@contextmanager
def scenarios(tmp_path: Path, make_database: Callable[[str], str]) -> Iterator[Callable[..., Scenario]]:
    """``build(source, target=None, **options)``: a Scenario from a fresh ``source`` database to a fresh
    ``target`` one (default: the same kind), disposed of when the block ends."""
    made: list[Scenario] = []

    def build(source: str, target: str | None = None, **options: Any) -> Scenario:
        s = Scenario(tmp_path, make_database(source), make_database(target or source), **options)
        made.append(s)
        return s
    try:
        yield build
    finally:
        for s in made:
            s.dispose()
