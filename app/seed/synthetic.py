"""Fast synthetic CRM data at millions of rows, loaded with COPY (benchmarks, `crm seed`).

Half the rows are Chinese, half English, with the shape of real CRM text:
company names built from a city, a brand, a trade and a legal suffix; people
with common Chinese and English names; activities and tickets written from
templates that mention brands, products and numbers. Brands come from a large
generated vocabulary, so a brand query matches tens to hundreds of rows out of
millions, while a city or a single common character matches many thousands:
both kinds of query a benchmark needs.

Loading drops the tables' secondary indexes and foreign keys, COPYs the rows,
and recreates them afterwards (building an index once is many times faster
than maintaining it row by row). Deterministic for a given seed.
"""
from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import psycopg

CITIES_ZH = ["北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "西安", "苏州", "天津", "重庆",
             "长沙", "青岛", "厦门", "宁波", "大连", "昆明", "合肥", "郑州", "济南", "福州", "沈阳", "无锡",
             "东莞", "佛山", "珠海", "南昌", "贵阳", "兰州"]
CITIES_EN = ["Shanghai", "Beijing", "Hong Kong", "Singapore", "London", "New York", "San Francisco", "Berlin",
             "Tokyo", "Sydney", "Paris", "Toronto", "Chicago", "Seattle", "Boston", "Munich", "Dublin",
             "Amsterdam", "Madrid", "Austin"]
BRAND_CHARS = ("华为腾讯阿里巴京东美团小米联想海尔格力比亚迪中兴大疆网易百度顺丰万科恒安新希望金龙鱼"
               "伊利蒙牛娃哈农夫山泉青岛康师傅统一光明三一重工徐工潍柴宝钢鞍钢紫金洛阳钼业招商平安"
               "兴业浦发民生光大中信国泰君安海通申万宏源长城安信东方红星天宇盛世鼎泰鸿运瑞丰嘉禾")
TRADES_ZH = ["科技", "电子", "物流", "建材", "软件", "食品", "医药", "汽车", "纺织", "能源", "设计", "贸易",
             "传媒", "化工", "航运", "机械", "环保", "教育", "咨询", "通信"]
SUFFIXES_ZH = ["有限公司", "股份有限公司", "集团", "科技有限公司", "分公司", "贸易有限公司"]
SYLLABLES = ["ac", "al", "an", "ar", "ba", "bel", "bri", "ca", "cor", "da", "del", "dyn", "el", "en", "fa",
             "gen", "glo", "har", "in", "jo", "ka", "kor", "la", "lex", "lu", "ma", "mar", "mo", "nex", "no",
             "nov", "or", "pa", "pri", "qua", "ra", "ro", "sa", "sol", "ta", "ter", "tri", "u", "va", "ven",
             "vi", "vo", "xa", "ze", "zen"]
TRADES_EN = ["Technologies", "Logistics", "Software", "Foods", "Health", "Motors", "Textiles", "Energy",
             "Design", "Trading", "Media", "Chemicals", "Shipping", "Machinery", "Systems", "Labs",
             "Consulting", "Networks", "Robotics", "Finance"]
SUFFIXES_EN = ["Inc", "Ltd", "Group", "Corporation", "Holdings", "GmbH", "LLC", "International"]
INDUSTRIES = ["Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy",
              "Education", "制造业", "互联网", "金融", "零售", "医疗", "物流", "能源", "教育"]
SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN_ZH = "伟芳娜敏静磊洋勇艳杰军丽强秀英华明涛超霞平刚桂兰玉萍辉鹏飞晨阳雪梅琳丹欣怡浩宇博文子轩雨婷佳"
FIRST_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Emma",
            "Oliver", "Sophia", "William", "Elizabeth", "Daniel", "Olivia", "Thomas", "Ava", "Lucas", "Mia",
            "Henry", "Grace", "Jack", "Chloe", "Noah", "Zoe", "Ethan", "Lily", "Samuel", "Hannah"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark",
           "Garcia", "Martinez", "Anderson", "Thomas", "Moore", "Jackson", "White", "Harris", "Martin",
           "Thompson", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Carter"]
POSITIONS = ["CEO", "CTO", "CFO", "Purchasing Manager", "Sales Director", "IT Manager", "Operations Lead",
             "Procurement Specialist", "采购经理", "总经理", "技术总监", "财务主管", "销售总监", "运营经理"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "LinkedIn", "Partner", "Webinar", "Newsletter",
           "官网", "展会", "老客户推荐", "微信", "电话营销", "合作伙伴"]
PRODUCTS_EN = ["CRM licence", "cloud storage", "support contract", "ERP upgrade", "data platform",
               "security audit", "training package", "hardware refresh", "API integration", "analytics suite"]
PRODUCTS_ZH = ["云存储", "维保合同", "系统升级", "数据平台", "安全审计", "培训服务", "硬件更新", "接口集成",
               "分析套件", "年度采购"]
ACTIVITY_TYPES = ("call", "meeting", "email", "visit", "other")
SUBJECTS_EN = ["Contract renewal with {b}", "Quarterly review: {p}", "Product demo for {b}",
               "Pricing discussion ({p})", "Follow-up call re {p}", "Kick-off meeting {b}", "Site visit at {c}",
               "Invoice question from {b}", "Renewals planning {y}", "Escalation: {p} outage"]
SUBJECTS_ZH = ["{b}合同续签", "{p}季度回顾", "{b}产品演示", "{p}报价沟通", "上门拜访{b}", "{c}客户回访",
               "{b}发票问题", "{y}年度续约计划", "{p}故障升级", "{b}项目启动会"]
SENTENCES_EN = ["Discussed the {p} renewal and the {n}% discount they asked for.",
                "Customer wants a proposal for {p} before the end of the quarter.",
                "Sent the signed contract to {b} procurement; waiting for the purchase order.",
                "Call with the {c} office about delivery delays and invoice #{n}.",
                "They are evaluating competitors; follow up next week with pricing.",
                "Demo went well, the CTO asked about single sign-on and audit logs.",
                "Renewing {n} seats, budget approved by finance.",
                "Reported login failures since Monday; escalated to second-level support."]
SENTENCES_ZH = ["客户希望在季度末前收到{p}的报价方案。", "与{b}采购部沟通合同续签，对方要求{n}%折扣。",
                "{c}办公室反馈物流延迟，发票号{n}。", "演示效果良好，技术总监询问单点登录和审计日志。",
                "客户正在评估竞争对手，下周跟进价格。", "自周一起系统无法登录，已升级到二线支持。",
                "续签{n}个账号，财务已批准预算。", "已将签署的合同发送给{b}，等待采购订单。"]
TICKET_SUBJECTS_EN = ["Cannot log in", "Invoice is wrong", "Delivery delayed", "Feature request: export to {p}",
                      "Data sync failing", "Password reset for {b}", "Report totals do not match",
                      "API rate limit reached"]
TICKET_SUBJECTS_ZH = ["系统无法登录", "发票金额错误", "物流延迟", "数据同步失败", "{b}密码重置",
                      "报表数据不一致", "{p}无法使用", "接口调用超限"]
LEAD_STATUSES = ("new", "following up", "qualified", "converted", "lost")
STAGES = ("initial", "qualification", "proposal", "negotiation", "won", "lost")
TICKET_STATUSES = ("open", "in progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")

# rows per unit of scale (scale 1 = about 1M customers, 10M activities: the contract's `crm seed`;
# `crm seed` adds 20M audit log rows per unit, see app.seed.plan)
PER_SCALE = {"customers": 1_000_000, "contacts": 2_000_000, "leads": 1_000_000, "opportunities": 2_000_000,
             "activities": 10_000_000, "service_tickets": 1_000_000}
ORDER = ["customers", "contacts", "leads", "opportunities", "activities", "service_tickets"]


def counts_for_scale(scale: float) -> dict[str, int]:
    return {table: max(1, int(n * scale)) for table, n in PER_SCALE.items()}


class Vocabulary:
    """Brands and names drawn once per generator (large enough that brands are selective)."""

    def __init__(self, rng: random.Random, brands: int = 20_000) -> None:
        chars = BRAND_CHARS
        self.brands_zh = list({chars[rng.randrange(len(chars))] + chars[rng.randrange(len(chars))]
                               for _ in range(brands)})
        self.brands_en = list({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
                               for _ in range(brands)})


def _escape(value: object) -> str:
    """COPY text format for one value."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


@dataclass
class Generator:
    """Row factories for each table; ids are assigned from `first_id` upwards."""

    seed: int = 20261129
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 1))
    rng: random.Random = field(init=False)
    vocab: Vocabulary = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.vocab = Vocabulary(self.rng)

    def _when(self, days: int = 730) -> str:
        moment = self.now - dt.timedelta(seconds=self.rng.randrange(days * 86400))
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def _fill(self, template: str, chinese: bool) -> str:
        r = self.rng
        return template.format(
            b=r.choice(self.vocab.brands_zh if chinese else self.vocab.brands_en),
            p=r.choice(PRODUCTS_ZH if chinese else PRODUCTS_EN),
            c=r.choice(CITIES_ZH if chinese else CITIES_EN),
            n=r.randrange(2, 9999), y=r.randrange(2024, 2028))

    def company(self, chinese: bool) -> str:
        r = self.rng
        if chinese:
            return r.choice(CITIES_ZH) + r.choice(self.vocab.brands_zh) + r.choice(TRADES_ZH) + r.choice(SUFFIXES_ZH)
        return f"{r.choice(self.vocab.brands_en)} {r.choice(TRADES_EN)} {r.choice(SUFFIXES_EN)}"

    def customers(self, n: int, first_id: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            chinese = i % 2 == 0
            when = self._when()
            yield (i, self.company(chinese), r.choice(INDUSTRIES),
                   r.choice(CITIES_ZH if chinese else CITIES_EN), when, when)

    def contacts(self, n: int, first_id: int, customers: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            chinese = i % 2 == 0
            if chinese:
                first, last = r.choice(GIVEN_ZH) + (r.choice(GIVEN_ZH) if r.random() < 0.6 else ""), r.choice(SURNAMES_ZH)
                email = f"user{i}@{r.choice(self.vocab.brands_en).lower()}.cn"
                phone = f"+86 1{r.randrange(30, 99)} {r.randrange(1000, 9999)} {r.randrange(1000, 9999)}"
            else:
                first, last = r.choice(FIRST_EN), r.choice(LAST_EN)
                email = f"{first}.{last}{i}@{r.choice(self.vocab.brands_en).lower()}.com".lower()
                phone = f"+1 ({r.randrange(200, 999)}) {r.randrange(200, 999)}-{r.randrange(1000, 9999)}"
            when = self._when()
            yield (i, r.randrange(1, customers + 1), first, last, email, phone, r.choice(POSITIONS), when, when)

    def leads(self, n: int, first_id: int, contacts: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            source = r.choice(SOURCES)
            if r.random() < 0.3:
                source += " " + r.choice(CITIES_ZH + CITIES_EN)
            when = self._when()
            yield (i, source, r.choice(LEAD_STATUSES), r.randrange(1, contacts + 1) if r.random() < 0.9 else None,
                   when, when)

    def opportunities(self, n: int, first_id: int, customers: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            chinese = i % 2 == 0
            product = r.choice(PRODUCTS_ZH if chinese else PRODUCTS_EN)
            brand = r.choice(self.vocab.brands_zh if chinese else self.vocab.brands_en)
            name = f"{brand}{product}项目" if chinese else f"{product.capitalize()} for {brand}"
            when = self._when()
            yield (i, r.randrange(1, customers + 1), name, r.choice(STAGES),
                   self.now.date() + dt.timedelta(days=r.randrange(-365, 365)), when, when)

    def _text(self, chinese: bool) -> str:
        pool = SENTENCES_ZH if chinese else SENTENCES_EN
        return (" " if not chinese else "").join(
            self._fill(self.rng.choice(pool), chinese) for _ in range(self.rng.randint(1, 3)))

    def activities(self, n: int, first_id: int, customers: int, contacts: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            chinese = r.random() < 0.5
            subject = self._fill(r.choice(SUBJECTS_ZH if chinese else SUBJECTS_EN), chinese)
            description = self._text(chinese) if r.random() < 0.7 else None
            when = self._when()
            yield (i, r.randrange(1, customers + 1), r.randrange(1, contacts + 1) if r.random() < 0.5 else None,
                   r.choice(ACTIVITY_TYPES), subject, description, when, when, when)

    def service_tickets(self, n: int, first_id: int, customers: int) -> Iterator[tuple]:
        r = self.rng
        for i in range(first_id, first_id + n):
            chinese = r.random() < 0.5
            subject = self._fill(r.choice(TICKET_SUBJECTS_ZH if chinese else TICKET_SUBJECTS_EN), chinese)
            when = self._when()
            yield (i, r.randrange(1, customers + 1), subject, self._text(chinese), r.choice(TICKET_STATUSES),
                   r.choice(PRIORITIES), when, when)


COLUMNS = {
    "customers": "customer_id, name, industry, location, created_at, updated_at",
    "contacts": "contact_id, customer_id, first_name, last_name, email, phone, position, created_at, updated_at",
    "leads": "lead_id, source, status, contact_id, created_at, updated_at",
    "opportunities": "opportunity_id, customer_id, name, stage, close_date, created_at, updated_at",
    "activities": "activity_id, customer_id, contact_id, type, subject, description, activity_date, "
                  "created_at, updated_at",
    "service_tickets": "ticket_id, customer_id, subject, description, status, priority, created_at, updated_at",
}
PRIMARY_KEYS = {"customers": "customer_id", "contacts": "contact_id", "leads": "lead_id",
                "opportunities": "opportunity_id", "activities": "activity_id", "service_tickets": "ticket_id"}
BATCH = 20_000


def copy_rows(conn: psycopg.Connection, table: str, rows: Iterator[tuple],
              progress: Callable[[int], None] | None = None) -> int:
    """COPY rows into table in text format; returns the count."""
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
        lines: list[str] = []
        for row in rows:
            lines.append("\t".join(map(_escape, row)))
            if len(lines) == BATCH:
                copy.write("\n".join(lines) + "\n")
                count += len(lines)
                lines.clear()
                if progress:
                    progress(BATCH)
        if lines:
            copy.write("\n".join(lines) + "\n")
            count += len(lines)
            if progress:
                progress(len(lines))
    return count


def _deferred(conn: psycopg.Connection, tables: Sequence[str]) -> tuple[list[str], list[str]]:
    """DDL to drop and to recreate the secondary indexes and foreign keys touching `tables`."""
    drops, creates = [], []
    for name, table, ddl in conn.execute(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND (conrelid::regclass::text = ANY(%s) OR confrelid::regclass::text = ANY(%s))",
            (list(tables), list(tables))):
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        creates.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
    for name, ddl in conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT i.indisunique",
            (list(tables),)):
        drops.append(f'DROP INDEX "{name}"')
        creates.insert(0, ddl)  # indexes before foreign keys: validation uses them
    return drops, creates


@dataclass
class LoadReport:
    counts: dict[str, int]
    seconds: dict[str, float]


def load(conninfo: str, counts: dict[str, int], seed: int = 20261129,
         echo: Callable[[str], None] = print, progress_factory: Callable | None = None) -> LoadReport:
    """Append `counts` rows per table (ids after the current maximum) and rebuild indexes.

    `progress_factory(table, total)` may return a callable taking a row count (e.g. a tqdm's update).
    """
    generator = Generator(seed=seed)
    tables = [t for t in ORDER if counts.get(t)]
    seconds: dict[str, float] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        sizes = {t: conn.execute(f"SELECT coalesce(max({PRIMARY_KEYS[t]}), 0) FROM {t}").fetchone()[0]
                 for t in ORDER}
        drops, creates = _deferred(conn, tables)
        with conn.transaction():
            for ddl in drops:
                conn.execute(ddl)
        total = {t: sizes[t] + counts.get(t, 0) for t in ORDER}
        try:
            _copy_tables(conn, generator, tables, counts, sizes, total, seconds, echo, progress_factory)
        finally:  # the indexes and keys come back even when a COPY failed
            started = time.monotonic()
            for ddl in creates:
                step = time.monotonic()
                conn.execute(ddl)
                echo(f"  {time.monotonic() - step:6.0f} s  {ddl[:110]}")
            seconds["indexes"] = time.monotonic() - started
        for table in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return LoadReport(counts={t: counts.get(t, 0) for t in tables}, seconds=seconds)


def _copy_tables(conn: psycopg.Connection, generator: Generator, tables: list[str], counts: dict[str, int],
                 sizes: dict[str, int], total: dict[str, int], seconds: dict[str, float],
                 echo: Callable[[str], None], progress_factory: Callable | None) -> None:
    for table in tables:
        started = time.monotonic()
        args = {"customers": (), "contacts": (total["customers"],), "leads": (total["contacts"],),
                "opportunities": (total["customers"],),
                "activities": (total["customers"], total["contacts"]),
                "service_tickets": (total["customers"],)}[table]
        rows = getattr(generator, table)(counts[table], sizes[table] + 1, *args)
        progress = progress_factory(table, counts[table]) if progress_factory else None
        with conn.transaction():
            copy_rows(conn, table, rows, progress)
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{PRIMARY_KEYS[table]}'), "
                     f"(SELECT max({PRIMARY_KEYS[table]}) FROM {table}))")
        seconds[table] = time.monotonic() - started
        echo(f"{table}: {counts[table]:,} rows in {seconds[table]:.0f} s")
