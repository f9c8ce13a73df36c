"""The benchmark table: a county hazard-check record (source) and its intermediate table (target).

Rows are generated from small pre-built pools (companies, tasks, names, a long run of Chinese
text sliced for remarks) with a fixed seed: per-row Faker calls would take longer than the
copies being measured.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

SOURCE_TABLE = "hazard_check_record"
TARGET_TABLE = "dp_hazard_check_record"

# Plain names, no SQLAlchemy: the raw phases import this module, and their whole-process time
# must not include an import that a hand-written copy would not make. The tables themselves
# are built in bench.databases.
SOURCE_COLUMNS = ("id", "company_code", "task_id", "check_time", "check_result", "remark", "checker",
                  "danger_count", "check_type", "score", "cost", "del_flag", "create_time", "update_time",
                  "version")
TARGET_COLUMNS = ("id", "company_code", "task_id", "check_time", "check_status", "remark", "checker",
                  "danger_count", "check_type", "score", "cost", "deleted", "create_date", "update_date",
                  "version", "sync_time")

#: how the source's Chinese status labels map to the province's codes
STATUS_CODES = {"正常": "0", "存在隐患": "1", "未排查": "2"}

#: target column <- source column, for the copies that rename by hand (raw driver, pandas)
RENAMED = {"check_result": "check_status", "del_flag": "deleted", "create_time": "create_date",
           "update_time": "update_date"}

_PHRASES = (
    "经现场检查，消防通道畅通，灭火器压力正常。", "发现配电箱未上锁，已责令立即整改。",
    "危险化学品仓库通风设施运行良好，台账记录完整。", "作业人员未按规定佩戴安全帽，现场已纠正。",
    "特种设备定期检验报告在有效期内。", "应急照明灯具部分损坏，要求三日内更换。",
    "安全出口指示标志清晰，疏散通道无杂物堆放。", "有限空间作业审批手续齐全，监护人员在岗。",
    "粉尘涉爆区域清扫不及时，存在积尘现象。", "员工三级安全教育培训记录缺失，需补充完善。",
    "储罐区可燃气体报警器校验合格。", "动火作业票填写不规范，已现场指导。",
    "机械设备防护罩缺失，已停机整改。", "隐患排查治理制度已上墙公示。", "双重预防机制运行正常，风险告知卡张贴到位。",
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


class Generator:
    """Deterministic rows for ``source_table``, produced in chunks so memory stays flat."""

    def __init__(self, seed: int = 20261128, newest: datetime | None = None):
        rnd = random.Random(seed)
        self.rnd = rnd
        # Base data ends two days before now: an incremental run's look-back window then holds
        # only the rows the benchmark changes, not a random slice of the load.
        self.newest = (newest or datetime.now()).replace(microsecond=0) - timedelta(days=2)
        pool = []
        while sum(map(len, pool)) < 40_000:
            pool.append(rnd.choice(_PHRASES))
        self.text = "".join(pool)
        self.companies = [str(rnd.randrange(100_000_000, 1_000_000_000)) for _ in range(3_000)]
        self.tasks = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(20_000)]
        self.names = [rnd.choice(_SURNAMES) + rnd.choice(_GIVEN) + rnd.choice(("", *_GIVEN)) for _ in range(500)]
        self.labels = ["正常"] * 6 + ["存在隐患"] * 3 + ["未排查"]
        self.decimals = [Decimal(n).scaleb(-2) for n in range(10_001)]

    def rows(self, count: int, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
        rnd, text, newest = self.rnd, self.text, self.newest
        span = len(text) - 500
        year = 365 * 86_400
        batch: list[tuple[Any, ...]] = []
        for ident in range(1, count + 1):
            updated = newest - timedelta(seconds=rnd.randrange(year))
            checked = updated - timedelta(seconds=rnd.randrange(7 * 86_400))
            length = rnd.randrange(501)
            start = rnd.randrange(span)
            batch.append((
                ident,
                rnd.choice(self.companies),
                rnd.choice(self.tasks),
                checked,
                rnd.choice(self.labels),
                text[start:start + length] if length > 10 else None,
                rnd.choice(self.names),
                rnd.randrange(6),
                rnd.randrange(1, 5),
                self.decimals[rnd.randrange(10_001)],
                self.decimals[rnd.randrange(10_001)] * 37,
                "1" if rnd.random() < 0.03 else "0",
                checked,
                updated,
                rnd.randrange(1, 20),
            ))
            if len(batch) >= chunk:
                yield batch
                batch = []
        if batch:
            yield batch


def sqlite_text(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as SQLAlchemy's SQLite types store them: datetimes and decimals as text."""
    out = []
    for row in rows:
        out.append(tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime)
                         else str(v) if isinstance(v, Decimal) else v for v in row))
    return out
