"""Per-screen test data: what a valid form for each CRM screen looks like."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

EDITED = "Edited 已编辑"
# report snapshots are checked against their type's JSON Schema (app/reports/schemas)
LOCATIONS = {"title": "Customers by location", "duration_ms": 4,
             "locations": [{"location": "深圳", "customers": 2}], "customers": 2}
INDUSTRIES = {"title": "Customer revenue by industry", "duration_ms": 3,
              "industries": [{"industry": "Retail", "customers": 3, "revenue": 1200.5}], "customers": 3,
              "revenue": 1200.5}


@dataclass
class Screen:
    url: str
    table: str
    pk: str
    valid: dict[str, str]
    edit_field: str
    text_fields: list[str] = field(default_factory=list)
    edited: dict[str, str] = field(default_factory=dict)  # what an edit posts; by default edit_field = EDITED

    def edit(self) -> dict[str, str]:
        return self.edited or {self.edit_field: EDITED}

    @property
    def edited_value(self) -> str:
        return self.edit()[self.edit_field]


def parents(sql) -> dict[str, str]:
    """A customer and a contact that forms can point at."""
    (customer,), = sql("INSERT INTO customers (name) VALUES ('Parent 父公司') RETURNING customer_id")
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) "
                      "VALUES (:c, '伟', '王') RETURNING contact_id", c=customer)
    return {"customer": str(customer), "contact": str(contact)}


def screens(ids: dict[str, str]) -> list[Screen]:
    return [
        Screen("/customers", "customers", "customer_id",
               {"name": "测试客户 Test Customer", "industry": "Retail", "location": "深圳",
                "revenue": "1200000.50"}, "name", ["name", "location"]),
        Screen("/contacts", "contacts", "contact_id",
               {"customer": ids["customer"], "first_name": "Ada", "last_name": "Lovelace",
                "email": "ada@example.com", "phone": "+44 20 7946 0958", "position": "CTO"},
               "position", ["first_name", "last_name", "position"]),
        Screen("/leads", "leads", "lead_id",
               {"source": "Trade show 展会", "status": "following up", "contact": ids["contact"]},
               "source", ["source"]),
        Screen("/opportunities", "opportunities", "opportunity_id",
               {"customer": ids["customer"], "name": "Renewal 2027", "stage": "proposal",
                "value": "50000", "close_date": "2027-03-31"}, "name", ["name"]),
        Screen("/activities", "activities", "activity_id",
               {"customer": ids["customer"], "contact": ids["contact"], "type": "meeting",
                "subject": "Kick-off 启动会", "description": "Agenda: scope & plan",
                "activity_date": "2026-11-20 10:30:00"}, "subject", ["subject", "description"]),
        Screen("/tickets", "service_tickets", "ticket_id",
               {"customer": ids["customer"], "subject": "Cannot log in 无法登录",
                "description": "Since Monday", "status": "in progress", "priority": "high"},
               "subject", ["subject", "description"]),
        Screen("/reports", "reports", "report_id",
               {"report_type": "revenue_by_industry", "data": json.dumps(INDUSTRIES),
                "generated_at": "2026-11-01 08:00:00"}, "report_type", [],
               {"report_type": "customers_by_location", "data": json.dumps(LOCATIONS, ensure_ascii=False)}),
    ]
