"""Realistic demo data for the county schema in sql/county/tables.yaml.

populate() fills an empty county database; mutate() changes a few rows and adds a few,
as a county system does between two sync runs. Both are deterministic for a seed, and
every update_time lies in the past, because syncd refuses rows whose cursor is ahead of
the source database clock.

The values are what a county system stores: Chinese labels instead of codes, the
flattened risk list of attachment 2, integer ids. Every code value appears at least once
(given enough rows) so the demo exercises every entry of the code lists.
"""
from __future__ import annotations

import random
import struct
import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import Engine, MetaData, func, insert, select, update

from syncd import ddl, resources
from syncd.i18n import _

# All generated times fall before this point; fixed so a seed always gives the same rows.
EPOCH_END = datetime(2025, 12, 1, 8, 0, 0)

RISK_LEVELS = ["重大风险", "较大风险", "一般风险", "低风险"]
ZONE_LEVELS = ["一级", "二级", "三级", "四级"]
HAZARD_LEVELS = ["一级", "二级", "三级", "四级"]
CONTROL_LEVELS = ["公司级", "厂级", "车间级", "班组级", "岗位级"]
CYCLES = ["1天", "8小时", "1月", "1年", "7天", "4小时", "2小时", "3月"]
DATA_SRC = ["隐患排查", "自动化监控"]
WORK_TYPES = ["日常任务", "主要负责人任务", "技术负责人任务", "操作负责人任务"]
WORK_DAY_TYPES = ["每天", "法定工作日", "非法定工作日"]
CHECK_RESULTS = ["正常", "存在隐患", "未排查", "其他"]
DANGER_LEVELS = ["一般隐患", "重大隐患"]
DANGER_SOURCES = ["日常排查", "综合性排查", "专业性排查", "季节性排查", "重点时段及节假日前排查",
                  "事故类比排查", "复产复工前排查", "外聘专家诊断式排查", "管控措施失效", "其他"]
MANAGE_TYPES = ["即查即改", "限期整改"]
DANGER_TYPES = ["安全", "工艺", "电气", "仪表", "消防", "总图", "设备", "其他"]
DANGER_CATEGORIES = ["其他隐患", "主要负责人登记隐患", "技术负责人登记隐患", "操作负责人登记隐患"]
DANGER_STATES = ["整改中", "待验收", "已验收"]
MANAGEMENT_CLASSES = ["人的不安全行为", "物的不安全状态", "管理上的缺陷"]
OCCURRENCE_LINKS = ["设计", "产品质量缺陷", "仓储", "项目施工", "开停车", "使用操作", "维护保养", "维修", "变更",
                    "运输"]
DEPARTMENTS = ["安环部", "生产部", "设备部", "技术部", "储运部", "质检中心", "合成车间", "精馏车间", "罐区工段"]
POSTS = ["总经理", "安全总监", "生产副总", "技术总监", "车间主任", "设备主管", "班长", "内操", "外操"]

# Analysis objects of a chemical plant: (object, units, hazard sources).
OBJECTS = [
    ("甲醇罐区", ["甲醇储罐微单元", "装卸车微单元", "输送泵区微单元"], ["甲醇储罐", "装卸鹤管", "甲醇输送泵"]),
    ("液氨储罐区", ["液氨球罐微单元", "氨压缩机微单元"], ["液氨球罐", "氨压缩机", "安全阀"]),
    ("氯气库", ["液氯钢瓶存放区", "汽化器微单元"], ["液氯钢瓶", "汽化器"]),
    ("合成车间", ["合成塔微单元", "反应釜微单元", "换热器微单元"], ["合成塔", "反应釜", "换热器"]),
    ("液化烃罐区", ["球罐微单元", "装车站微单元"], ["液化石油气球罐", "装车臂"]),
    ("精馏装置", ["精馏塔微单元", "回流罐微单元"], ["精馏塔", "再沸器", "回流罐"]),
    ("危化品仓库", ["甲类仓库微单元", "乙类仓库微单元"], ["桶装溶剂", "袋装固体物料"]),
    ("加氢装置", ["加氢反应器微单元", "循环氢压缩机微单元"], ["加氢反应器", "循环氢压缩机"]),
]
RISKS = [
    ("泄漏造成火灾", "爆炸、火灾"), ("泄漏造成中毒", "中毒"), ("超压造成容器破裂", "容器爆炸"),
    ("检修作业高空坠落", "高处坠落"), ("受限空间作业缺氧", "窒息"), ("静电积聚引发闪爆", "火灾、爆炸"),
]
# classify2 as the county stores it ("分类1/分类2"), with a measure text for each.
MEASURES = [
    ("工程技术/工艺控制", "液位、温度、压力控制在工艺指标范围内，超限报警联锁投用"),
    ("工程技术/关键设备/部件", "储罐呼吸阀、阻火器完好，定期检查"),
    ("工程技术/安全附件", "安全阀、爆破片在校验有效期内，根部阀全开"),
    ("工程技术/安全仪表", "SIS系统联锁回路投用正常，定期测试"),
    ("工程技术/其他", "设置防火堤及围堰，排水阀常闭"),
    ("维护保养/动设备", "输送泵机封无泄漏，振动、温度正常"),
    ("维护保养/静设备", "储罐及管线无腐蚀、无渗漏，定期测厚"),
    ("维护保养/其他", "防雷防静电接地完好，每年检测"),
    ("操作行为/人员资质", "操作人员持证上岗，特种作业证在有效期内"),
    ("操作行为/操作记录", "按规定填写巡检及操作记录"),
    ("操作行为/交接班", "严格执行交接班制度，交接内容完整"),
    ("操作行为/其他", "作业前进行风险辨识并办理作业票"),
    ("应急措施/应急设施", "可燃、有毒气体报警器完好并定期标定"),
    ("应急措施/个体防护", "配备正压式空气呼吸器、防毒面具，人员正确佩戴"),
    ("应急措施/消防设施", "消防栓、灭火器、泡沫站完好有效"),
    ("应急措施/应急预案", "编制现场处置方案并定期演练"),
    ("应急措施/其他", "应急物资专人管理，定期检查补充"),
]
DANGERS = [
    "储罐呼吸阀堵塞", "可燃气体报警器未标定", "安全阀超期未校验", "防静电接地线断开", "消防栓无水压",
    "巡检记录漏填", "作业票未审批即作业", "法兰垫片渗漏", "压力表失效", "应急器材过期",
    "机泵机封泄漏", "电缆桥架防火封堵缺失", "仪表联锁旁路未审批", "围堰排水阀未关闭",
]
STOP_REASONS = ["年度大修", "设备检修", "工艺改造", "停产检修", "安全隐患整改"]


def county_metadata() -> MetaData:
    return ddl.load_tables(resources.county_tables())


def populate(engine: Engine, *, rows: int = 200, seed: int = 1) -> dict[str, int]:
    """Create the county tables (if missing) and fill them; returns rows inserted per table.

    `rows` is the size of the risk list; the other tables scale with it.
    Raises ValueError when a county table already holds rows.
    """
    if rows < 1:
        raise ValueError(_("rows must be at least 1"))
    metadata = county_metadata()
    metadata.create_all(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise ValueError(_("populate expects empty county tables; {name} has rows").format(name=table.name))

    data = _Generator(seed).generate(rows)
    with engine.begin() as conn:
        for name, records in data.items():
            if records:
                conn.execute(insert(metadata.tables[name]), records)
    return {name: len(records) for name, records in data.items()}


def mutate(engine: Engine, *, seed: int = 2, fraction: float = 0.05) -> dict[str, int]:
    """Update about `fraction` of the rows of every table and insert a few new ones.

    Changed and new rows get an update_time later than any already in the database (but
    still in the past), so an incremental pass picks up exactly them. Returns rows changed (updated + inserted)
    per table.
    """
    if not 0 < fraction <= 1:
        raise ValueError(_("fraction must be in (0, 1]"))
    metadata = county_metadata()
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    changed: dict[str, int] = {}
    with engine.begin() as conn:
        latest = [conn.execute(select(func.max(t.c.update_time))).scalar_one() for t in metadata.sorted_tables]
        stamp = _later(max((v for v in latest if v is not None), default=EPOCH_END))
        for table in metadata.sorted_tables:
            ids = list(conn.execute(select(table.c.id).order_by(table.c.id)).scalars())
            count = 0
            for i, row_id in enumerate(rng.sample(ids, max(1, int(len(ids) * fraction))) if ids else []):
                values = _changes(table.name, rng, fake)
                values.update(update_time=stamp + timedelta(seconds=i), gxr=fake.name())
                conn.execute(update(table).where(table.c.id == row_id).values(**values))
                count += 1
            changed[table.name] = count

        # New rows: a measure added to an existing risk list, and the first checks of it.
        qd = metadata.tables["fxgk_qd"]
        template = conn.execute(select(qd).order_by(qd.c.id.desc()).limit(1)).mappings().first()
        if template is not None:
            new_qd_id = template["id"] + 1
            classify, measure = rng.choice(MEASURES)
            new_row = dict(template)
            new_row.update(id=new_qd_id, xh=(template["xh"] or 0) + 1, gkcs_fl=classify, gkcs=measure,
                           pcnr=f"检查{measure}", pcpc="1天", rwlx="日常任务", bbrw_xh=None,
                           del_flag="0", cjsj=stamp, update_time=stamp, cjr=fake.name(), gxr=fake.name())
            conn.execute(insert(qd), [new_row])
            changed["fxgk_qd"] += 1
            jl = metadata.tables["yhpc_jl"]
            next_jl = (conn.execute(select(func.max(jl.c.id))).scalar_one() or 0) + 1
            records = [{
                "id": next_jl + k, "qy_bm": template["qy_bm"], "qd_id": new_qd_id,
                "pcsj": stamp - timedelta(hours=k + 1), "pcjg": "正常", "pcr": fake.name(),
                "pcr_sj": fake.phone_number(), "sb_bm": _imei(rng), "sfbb": "否",
                "cjr": fake.name(), "cjsj": stamp, "gxr": fake.name(), "update_time": stamp, "del_flag": "0",
            } for k in range(3)]
            conn.execute(insert(jl), records)
            changed["yhpc_jl"] += len(records)
    return changed


def _later(value: datetime) -> datetime:
    candidate = value.replace(microsecond=0) + timedelta(minutes=10)
    # Never ahead of the clock; ties with older rows are broken by the key.
    return min(candidate, datetime.now().replace(microsecond=0) - timedelta(minutes=1))


def _changes(table: str, rng: random.Random, fake: Faker) -> dict[str, Any]:
    if table == "fxgk_qd":
        hourly = rng.random() < 0.3
        return {"gw_zrr": fake.name(), "gkcj": rng.choice(CONTROL_LEVELS),
                "pcpc": "8小时" if hourly else rng.choice(["1天", "7天", "1月"]),
                "gz_kssj": "08:00:00" if hourly else None, "gz_jssj": "20:00:00" if hourly else None}
    if table == "yh_tz":
        # Progress the rectification rather than invent an inconsistent state.
        return {"kz_cs": "加强巡检，落实临时管控措施", "zg_zrr": fake.name()}
    if table == "yhpc_jl":
        return {"sb_bm": _imei(rng)}
    if table == "wxy_xx":
        return {"czfzr": fake.name(), "czfzr_dh": fake.phone_number()}
    if table == "zz_tyjx":
        return {"ty_yy": rng.choice(STOP_REASONS)}
    if table == "fx_fq":
        return {"pjr": fake.name()}
    if table == "fx_fbt":
        return {"tp": _png(64, 48, rng)}
    if table == "qy_jbxx":
        return {"lxdh": fake.phone_number()}
    return {}


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.clock = EPOCH_END - timedelta(days=90)
        self.people: dict[str, str] = {}

    def tick(self) -> datetime:
        """Monotonic creation times, so row order, cjsj and update_time agree."""
        self.clock += timedelta(minutes=self.rng.randint(1, 90), seconds=self.rng.randint(0, 59))
        return min(self.clock, EPOCH_END)

    def audit(self, created: datetime, *, deleted: bool = False) -> dict[str, Any]:
        updated = created + timedelta(hours=self.rng.choice([0, 0, 1, 5, 30]))
        return {"cjr": self.fake.name(), "cjsj": created, "gxr": self.fake.name(),
                "update_time": min(updated, EPOCH_END), "del_flag": "2" if deleted else "0"}

    def generate(self, rows: int) -> dict[str, list[dict[str, Any]]]:
        rng, fake = self.rng, self.fake
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in
                                                ("qy_jbxx", "wxy_xx", "fxgk_qd", "yhpc_jl", "yh_tz",
                                                 "zz_tyjx", "fx_fq", "fx_fbt")}
        company_count = max(2, min(20, rows // 40))
        codes = rng.sample(range(100_000_000, 1_000_000_000), company_count)
        companies = [f"{c:09d}" for c in codes]
        for i, code in enumerate(companies, 1):
            out["qy_jbxx"].append({
                "id": i, "qy_bm": code, "qy_mc": fake.company_prefix() + rng.choice(["化工", "石化", "化学", "气体"])
                + "有限公司", "tyshxydm": "91" + "410922" + f"{rng.randrange(10**10):010d}",
                "xzqh_dm": "410922", "qy_dz": fake.address(), "fddbr": fake.name(), "lxdh": fake.phone_number(),
                **self.audit(self.tick())})

        # Analysis objects per company, reused by the risk list, unit stops and dangers.
        objects: list[tuple[int, str, str, list[str], list[str]]] = []
        for company in companies:
            for name, units, sources in rng.sample(OBJECTS, 3):
                index = len(out["wxy_xx"])
                major = index % 3 != 2
                out["wxy_xx"].append({
                    "id": index + 1, "qy_bm": company, "wxy_bm": f"{company}{index + 1:03d}", "wxy_mc": name,
                    "sfzd": "是" if major else "否", "wxy_jb": HAZARD_LEVELS[index % 4] if major else None,
                    "r_z": Decimal(rng.randint(1000, 20000)) / 100 if major else None,
                    "tyrq": date(2010, 1, 1) + timedelta(days=rng.randint(0, 4000)),
                    **self._responsible(major), **self.audit(self.tick())})
                objects.append((index + 1, company, name, units, sources))

        for i in range(rows):
            object_id, company, object_name, units, sources = objects[i % len(objects)]
            unit = units[(i // len(objects)) % len(units)]
            risk, event = RISKS[(i // len(objects) // len(units)) % 2 + (i % 3) * 2]
            classify, measure = MEASURES[i % len(MEASURES)]
            work_type = WORK_TYPES[i % len(WORK_TYPES)] if i % 3 == 0 else "日常任务"
            cycle = CYCLES[i % len(CYCLES)]
            hourly = cycle.endswith("小时")
            out["fxgk_qd"].append({
                "id": i + 1, "qy_bm": company, "xh": i + 1, "fxdx": object_name,
                "zrbm": DEPARTMENTS[object_id % len(DEPARTMENTS)], "zrr": self._person(f"{company}{object_name}"),
                "fxdy": unit, "wxy": sources[i % len(sources)], "aqfx": risk,
                "fxdj": RISK_LEVELS[i % len(RISK_LEVELS)], "fxsj": event, "gkcs_fl": classify, "gkcs": measure,
                "gkcj": CONTROL_LEVELS[i % len(CONTROL_LEVELS)], "gw_zrr": fake.name(), "pcpc": cycle,
                "gkfs": DATA_SRC[1] if i % 5 == 4 else DATA_SRC[0], "pcnr": f"检查{measure}", "rwlx": work_type,
                "bbrw_xh": None if work_type == "日常任务" else str(rng.randint(1, 9)),
                "gzrlx": WORK_DAY_TYPES[i % len(WORK_DAY_TYPES)],
                "rw_kssj": datetime(2024, 1, 1, 8) + timedelta(days=rng.randint(0, 300)),
                "gz_kssj": "08:00:00" if hourly else None, "gz_jssj": "17:30:00" if hourly else None,
                **self.audit(self.tick(), deleted=i % 37 == 36)})

        list_rows = out["fxgk_qd"]
        object_ids = {(o[1], o[2]): o[0] for o in objects}
        for i in range(rows):
            source = list_rows[(i * 7) % len(list_rows)]
            result = (CHECK_RESULTS[(i // 2) % len(CHECK_RESULTS)] if i % 2 == 0 else
                      ("存在隐患" if i % 4 == 1 else "正常"))
            checked = self.tick()
            out["yhpc_jl"].append({
                "id": i + 1, "qy_bm": source["qy_bm"], "qd_id": source["id"], "pcsj": checked - timedelta(minutes=5),
                "pcjg": result, "pcr": source["gw_zrr"], "pcr_sj": fake.phone_number(), "sb_bm": _imei(rng),
                "sfbb": "否" if source["rwlx"] == "日常任务" else "是", **self.audit(checked)})

        danger_records = [r for r in out["yhpc_jl"] if r["pcjg"] == "存在隐患"]
        for i in range(max(len(DANGER_SOURCES), rows // 2)):
            linked = i % 5 != 4 and danger_records
            if linked:
                record = danger_records[i % len(danger_records)]
                source = list_rows[record["qd_id"] - 1]
            else:
                record, source = None, list_rows[(i * 11) % len(list_rows)]
            state = DANGER_STATES[i % len(DANGER_STATES)]
            registered = self.tick()
            accepted = state == "已验收"
            out["yh_tz"].append({
                "id": i + 1, "qy_bm": source["qy_bm"], "wxy_id": object_ids[(source["qy_bm"], source["fxdx"])],
                "jl_id": record["id"] if record else None, "qd_id": source["id"] if record else None,
                "yh_mc": f"{source['fxdy']}{DANGERS[i % len(DANGERS)]}",
                "yh_dj": DANGER_LEVELS[1] if i % 7 == 6 else DANGER_LEVELS[0],
                "djsj": registered, "djr": fake.name(),
                "yh_ly": "日常排查" if record and i % 3 else DANGER_SOURCES[i % len(DANGER_SOURCES)],
                "zf_bh": f"豫应急执〔2025〕{i + 1}号" if not record and i % 2 else None,
                "zl_lx": MANAGE_TYPES[i % 2], "yh_lx": DANGER_TYPES[i % len(DANGER_TYPES)],
                "yh_lb": DANGER_CATEGORIES[i % len(DANGER_CATEGORIES)],
                "yh_ms": f"{source['fxdy']}{source['wxy']}处发现{DANGERS[i % len(DANGERS)]}，{fake.sentence()}",
                "yy_fx": fake.sentence() if i % 2 else None, "kz_cs": "设置警戒区域，安排专人监护",
                "zg_zj": Decimal(rng.randint(1, 500)) / 10, "zg_zrr": fake.name(),
                "zl_qx": (registered + timedelta(days=rng.randint(1, 30))).date(),
                "ys_r": fake.name() if accepted else None,
                "ys_sj": registered + timedelta(days=rng.randint(1, 20)) if accepted else None,
                "ys_qk": "整改完成，验收合格" if accepted else None, "yh_zt": state,
                "gl_fl": MANAGEMENT_CLASSES[i % len(MANAGEMENT_CLASSES)],
                "fs_hj": OCCURRENCE_LINKS[i % len(OCCURRENCE_LINKS)], **self.audit(registered)})
            if accepted:
                out["yh_tz"][-1]["update_time"] = min(max(out["yh_tz"][-1]["update_time"],
                                                          out["yh_tz"][-1]["ys_sj"]), EPOCH_END)

        for i in range(max(2, rows // 10)):
            source = list_rows[(i * 13) % len(list_rows)]
            start = self.tick() - timedelta(days=rng.randint(1, 60))
            out["zz_tyjx"].append({
                "id": i + 1, "qy_bm": source["qy_bm"], "fxdx": source["fxdx"], "fxdy": source["fxdy"],
                "ty_kssj": start, "ty_jssj": start + timedelta(days=rng.randint(1, 15)) if i % 4 else None,
                "ty_yy": STOP_REASONS[i % len(STOP_REASONS)], **self.audit(self.tick())})

        zone_id = 0
        for company in companies:
            for k, (object_name, *_rest) in enumerate(rng.sample(OBJECTS, 4)):
                zone_id += 1
                out["fx_fq"].append({
                    "id": zone_id, "qy_bm": company, "fq_bm": f"FQ-{k + 1:02d}", "fq_mc": object_name,
                    "fxdj": ZONE_LEVELS[(zone_id - 1) % 4], "zb_fw": _polygon(rng),
                    "szbm": rng.choice(DEPARTMENTS), "pjr": fake.name(),
                    "fprq": (EPOCH_END - timedelta(days=rng.randint(30, 300))).date(), **self.audit(self.tick())})

        map_id = 0
        for company in companies:
            for title, suffix in (("全厂总平面四色分布图", "zpt"), ("生产车间四色分布图", "cj")):
                map_id += 1
                out["fx_fbt"].append({
                    "id": map_id, "qy_bm": company, "tm": title, "wj_mc": f"{company}_{suffix}.png",
                    "tp": _png(64, 48, rng), **self.audit(self.tick())})
        return out

    def _responsible(self, major: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for prefix, post in (("zyfzr", "总经理"), ("jsfzr", "技术总监"), ("czfzr", "车间主任")):
            values[prefix] = self.fake.name() if major else None
            values[f"{prefix}_dh"] = self.fake.phone_number() if major else None
            values[f"{prefix}_zw"] = post if major else None
        return values

    def _person(self, key: str) -> str:
        # The department head of an object is the same on every list row of that object.
        if key not in self.people:
            self.people[key] = self.fake.name()
        return self.people[key]


def _imei(rng: random.Random) -> str:
    return "86" + "".join(str(rng.randint(0, 9)) for _ in range(13))


def _polygon(rng: random.Random) -> str:
    x, y = rng.uniform(113.0, 114.0), rng.uniform(35.0, 36.0)
    points = [(x, y), (x + 0.002, y), (x + 0.002, y + 0.0015), (x, y + 0.0015)]
    return ";".join(f"{px:.6f},{py:.6f}" for px, py in points)


# Red, orange, yellow and blue of the four risk levels.
_COLOURS = [(230, 0, 18), (255, 140, 0), (255, 215, 0), (0, 112, 192)]


def _png(width: int, height: int, rng: random.Random) -> bytes:
    """A four-colour block image as a PNG file (8-bit RGB, no interlace)."""
    quads = rng.sample(_COLOURS, 4)
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type None for each scanline
        for x in range(width):
            raw.extend(quads[(y * 2 // height) * 2 + (x * 2 // width)])
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        _chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
        _chunk(b"IEND", b""),
    ])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
