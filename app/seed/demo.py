"""A small, realistic demo data set (a few hundred rows) for an empty database.

Chinese and English names, dates spread over the past year, every stage,
status, priority and activity type. Deterministic (fixed random seed).
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import insert, select

from app.encryption.columns import seal_rows
from app.crud.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES, TICKET_STATUSES
from app.extensions import db
from app.models import Activity, Contact, Customer, Lead, Log, Opportunity, ServiceTicket, User
from app.reports.generators import generate

COMPANIES_ZH = ["华为技术", "深圳腾达电子", "上海浦江物流", "北京京西建材", "杭州云栖软件", "广州南粤食品",
                "成都天府医药", "武汉长江汽车", "南京金陵纺织", "西安秦川能源", "苏州园林设计", "青岛海风啤酒",
                "厦门鹭岛航运", "天津港湾化工", "重庆山城火锅", "长沙湘江传媒", "大连星海渔业", "昆明春城花卉",
                "合肥科大讯通", "宁波甬港贸易"]
COMPANIES_EN = ["Acme Corporation", "Globex Industries", "Initech Software", "Umbrella Health", "Stark Logistics",
                "Wayne Manufacturing", "Cyberdyne Systems", "Soylent Foods", "Hooli Cloud", "Vandelay Imports",
                "Wonka Confectionery", "Tyrell Robotics", "Oceanic Airlines", "Pied Piper Data", "Dunder Paper",
                "Massive Dynamic", "Aperture Labs", "Black Mesa Research", "Nakatomi Trading", "Gringotts Finance"]
INDUSTRIES = ["Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy",
              "Education", "制造业", "互联网", "金融", "零售"]
LOCATIONS = ["北京", "上海", "深圳", "广州", "杭州", "成都", "Shanghai", "Beijing", "Hong Kong", "Singapore",
             "London", "New York", "San Francisco", "Berlin", "Tokyo", "Sydney"]
SURNAMES_ZH = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙"]
GIVEN_ZH = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "丽"]
FIRST_EN = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Emma",
            "Oliver", "Sophia"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark"]
POSITIONS = ["CEO", "CTO", "Purchasing Manager", "Sales Director", "IT Manager", "采购经理", "总经理",
             "技术总监", "财务主管", "Operations Lead"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "LinkedIn", "Partner", "官网", "展会", "老客户推荐",
           "微信"]
SUBJECTS = ["Quarterly review", "Product demo", "Pricing discussion", "Contract renewal", "Follow-up call",
            "Kick-off meeting", "Site visit", "季度回顾", "产品演示", "合同续签", "报价沟通", "上门拜访"]
TICKET_SUBJECTS = ["Cannot log in", "Invoice is wrong", "Delivery delayed", "Feature request: export",
                   "Data sync failing", "Password reset", "系统无法登录", "发票金额错误", "物流延迟", "数据同步失败"]


DAYS = 365
HISTORY = dt.timedelta(days=DAYS + 1)  # how far back the rows are dated (see _when)


def _when(rng: random.Random, now: dt.datetime, days: int = DAYS) -> dt.datetime:
    return now - dt.timedelta(days=rng.uniform(0, days), seconds=rng.randint(0, 86400))


def load_demo_data(seed: int = 20261129) -> dict[str, int]:
    """Insert the demo rows; returns counts by table. Caller checks emptiness."""
    rng = random.Random(seed)
    now = dt.datetime.utcnow().replace(microsecond=0)
    session = db.session

    def add_all(model, rows: list[dict]) -> list[int]:
        pk = model.__table__.primary_key.columns[0]
        return list(session.scalars(insert(model).returning(pk), rows))

    customers = []
    for i in range(60):
        name = (COMPANIES_ZH if i % 2 == 0 else COMPANIES_EN)[(i // 2) % 20]
        suffix = "" if i < 40 else (" 分公司" if i % 2 == 0 else " International")
        created = _when(rng, now)
        customers.append({
            "name": name + suffix, "industry": rng.choice(INDUSTRIES), "location": rng.choice(LOCATIONS),
            "revenue": Decimal(int(rng.lognormvariate(15, 1.5))) , "created_at": created,
            "updated_at": created + dt.timedelta(days=rng.uniform(0, (now - created).days or 1)),
        })
    customer_ids = add_all(Customer, seal_rows(session.connection(), Customer, customers))

    contacts = []
    for i in range(130):
        chinese = i % 2 == 0
        first = rng.choice(GIVEN_ZH) if chinese else rng.choice(FIRST_EN)
        last = rng.choice(SURNAMES_ZH) if chinese else rng.choice(LAST_EN)
        handle = f"contact{i}" if chinese else f"{first}.{last}{i}".lower()
        created = _when(rng, now)
        contacts.append({
            "customer_id": rng.choice(customer_ids), "first_name": first, "last_name": last,
            "email": f"{handle}@example.{'cn' if chinese else 'com'}",
            "phone": f"+86 138 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}" if chinese
            else f"+1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            "position": rng.choice(POSITIONS), "created_at": created, "updated_at": created,
        })
    contact_ids = add_all(Contact, contacts)

    leads = [{"source": rng.choice(SOURCES), "status": LEAD_STATUSES[i % len(LEAD_STATUSES)],
              "contact_id": rng.choice(contact_ids) if i % 7 else None, "created_at": _when(rng, now)}
             for i in range(80)]
    for lead in leads:
        lead["updated_at"] = lead["created_at"]
    add_all(Lead, leads)

    opportunities = []
    for i in range(110):
        created = _when(rng, now)
        stage = OPPORTUNITY_STAGES[i % len(OPPORTUNITY_STAGES)]
        opportunities.append({
            "customer_id": rng.choice(customer_ids),
            "name": rng.choice(["License renewal", "New deployment", "Upgrade", "Support contract",
                                "年度采购", "系统升级", "新项目", "维保合同"]) + f" #{i + 1}",
            "stage": stage, "value": Decimal(rng.randrange(5_000, 2_000_000, 500)),
            "close_date": (created + dt.timedelta(days=rng.randint(10, 180))).date(),
            "created_at": created, "updated_at": created,
        })
    add_all(Opportunity, seal_rows(session.connection(), Opportunity, opportunities))

    activities = []
    for i in range(260):
        when = _when(rng, now)
        contact = rng.choice(contact_ids)
        activities.append({
            "customer_id": contacts[contact_ids.index(contact)]["customer_id"], "contact_id": contact,
            "type": ACTIVITY_TYPES[i % len(ACTIVITY_TYPES)], "subject": rng.choice(SUBJECTS),
            "description": rng.choice(["Discussed next steps and pricing.", "客户对新版本很感兴趣。",
                                       "Sent proposal; waiting for feedback.", "约定下周再次沟通。", None]),
            "activity_date": when, "created_at": when, "updated_at": when,
        })
    add_all(Activity, activities)

    tickets = []
    for i in range(90):
        created = _when(rng, now)
        tickets.append({
            "customer_id": rng.choice(customer_ids), "subject": rng.choice(TICKET_SUBJECTS),
            "description": rng.choice(["Customer reports the problem since Monday.", "客户反馈问题持续出现。",
                                       "Reproduced on staging.", None]),
            "status": TICKET_STATUSES[i % len(TICKET_STATUSES)], "priority": PRIORITIES[(i // 4) % len(PRIORITIES)],
            "created_at": created, "updated_at": created,
        })
    add_all(ServiceTicket, tickets)

    admin_id = session.scalar(select(User.user_id).where(User.username == "admin"))
    logs = [{"user_id": admin_id, "action": "demo data", "description": f"Loaded demo row batch {i}",
             "created_at": _when(rng, now)} for i in range(20)]
    add_all(Log, logs)
    session.commit()
    # snapshots come from the real generators over the rows just committed, as `crm reports generate` writes them
    reports = generate()
    return {"customers": len(customers), "contacts": len(contacts), "leads": len(leads),
            "opportunities": len(opportunities), "activities": len(activities),
            "tickets": len(tickets), "reports": len(reports), "logs": len(logs)}
