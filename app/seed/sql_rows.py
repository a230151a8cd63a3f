"""Rows generated inside PostgreSQL: `INSERT ... SELECT ... FROM generate_series` per chunk.

Python cannot build 30M rows in minutes; the server can, from small constant
arrays of words (the vocabulary of app.seed.words) and `random()` seeded
per chunk with `setseed`, so a chunk is the same on every run. Children point
at their parents with a power law on the parent's rank (`power(random(), k)`):
the oldest customers are the big accounts that own most contacts, activities,
opportunities and tickets, as in a real CRM. Dates spread over five years,
more of them recent. Only ids inside the batch being loaded are referenced, so
the foreign keys hold on a database that already had rows (and holes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from app.seed import words
from app.models.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES, TICKET_STATUSES
from app.seed.plan import PRIMARY_KEYS, YEARS

SKEW = 2.5  # top 1 % of customers own ~16 % of their children, the biggest about n**-0.4 of them
NOW = "(now() AT TIME ZONE 'utc')"
SCREENS = {"customers": "customers", "contacts": "contacts", "leads": "leads", "opportunities": "opportunities",
           "activities": "activities", "service_tickets": "tickets"}


@dataclass(frozen=True)
class Span:
    """The ids of one table's batch: base + 1 .. base + count."""

    base: int
    count: int

    def uniform(self) -> str:
        return f"({self.base} + 1 + floor(random() * {self.count})::int)"

    def skewed(self) -> str:
        return f"({self.base} + 1 + floor({self.count} * power(random(), {SKEW}))::int)"


def literal(values) -> str:
    return "ARRAY[" + ",".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]::text[]"


def pick(values) -> str:
    values = list(values)
    return f"({literal(values)})[1 + floor(random() * {len(values)})::int]"


def weighted(var: str, choices: dict[str, float]) -> str:
    """CASE over a uniform [0, 1) variable giving each value its share."""
    total, cumulative, arms = sum(choices.values()), 0.0, []
    items = list(choices.items())
    for value, share in items[:-1]:
        cumulative += share / total
        arms.append(f"WHEN {var} < {cumulative:.6f} THEN '{value}'")
    return f"CASE {' '.join(arms)} ELSE '{items[-1][0]}' END"


def when() -> str:
    """A moment in the last five years; density grows towards today (a growing business)."""
    return f"{NOW} - interval '1 second' * ({YEARS * 365.25 * 86400:.0f} * (1 - sqrt(random())))"


def template(text: str) -> str:
    """A generator template ({b}rand, {p}roduct, {c}ity, {n}umber, {y}ear) as a format() string."""
    text = text.replace("%", "%%")
    for key, position in (("b", 1), ("p", 2), ("c", 3), ("n", 4), ("y", 5)):
        text = text.replace("{" + key + "}", f"%{position}$s")
    return text


def bilingual(zh: str, en: str) -> str:
    return f"CASE WHEN zh THEN {zh} ELSE {en} END"


BRAND_ZH = (f"substr('{words.BRAND_CHARS}', 1 + floor(random() * {len(words.BRAND_CHARS)})::int, 1) || "
            f"substr('{words.BRAND_CHARS}', 1 + floor(random() * {len(words.BRAND_CHARS)})::int, 1)")
BRAND_EN = (f"initcap({pick(words.SYLLABLES)} || {pick(words.SYLLABLES)} || "
            f"CASE WHEN random() < 0.5 THEN {pick(words.SYLLABLES)} ELSE '' END)")
# brand, product, city, number, year of one row, in its language
WORDS = (f"{bilingual(BRAND_ZH, BRAND_EN)} AS brand, "
         f"{bilingual(pick(words.PRODUCTS_ZH), pick(words.PRODUCTS_EN))} AS product, "
         f"{bilingual(pick(words.CITIES_ZH), pick(words.CITIES_EN))} AS city, "
         f"(2 + floor(random() * 9998)::int)::text AS n, (2022 + floor(random() * 6)::int)::text AS y")
FILL = "brand, product, city, n, y"


def sentence() -> str:
    return (f"format({bilingual(pick(map(template, words.SENTENCES_ZH)), pick(map(template, words.SENTENCES_EN)))}, "
            f"{FILL})")


def paragraph(count: str) -> str:
    """1-3 sentences (count is 1, 2 or 3; 0 gives NULL)."""
    return (f"CASE WHEN {count} > 0 THEN concat_ws(CASE WHEN zh THEN '' ELSE ' ' END, {sentence()}, "
            f"CASE WHEN {count} > 1 THEN {sentence()} END, CASE WHEN {count} > 2 THEN {sentence()} END) END")


def contacts(first: int, last: int, ids: Span, customers: Span) -> str:
    given = list(words.GIVEN_ZH)
    return f"""
INSERT INTO contacts (contact_id, customer_id, first_name, last_name, email, phone, position, created_at, updated_at)
SELECT id, customer_id, first_name, last_name,
       CASE WHEN random() < 0.95 THEN CASE WHEN zh THEN 'user' || id || '@' || lower(domain) || '.cn'
            ELSE lower(first_name || '.' || last_name || id || '@' || domain || '.com') END END,
       CASE WHEN random() < 0.9 THEN CASE WHEN zh
            THEN format('+86 1%s %s %s', 30 + floor(random() * 69)::int, 1000 + floor(random() * 9000)::int,
                        1000 + floor(random() * 9000)::int)
            ELSE format('+1 (%s) %s-%s', 200 + floor(random() * 800)::int, 200 + floor(random() * 800)::int,
                        1000 + floor(random() * 9000)::int) END END,
       position, at, at
FROM (SELECT id, zh, customer_id, at,
             {bilingual(f"{pick(given)} || CASE WHEN random() < 0.6 THEN {pick(given)} ELSE '' END",
                        pick(words.FIRST_EN))} AS first_name,
             {bilingual(pick(words.SURNAMES_ZH), pick(words.LAST_EN))} AS last_name,
             {BRAND_EN} AS domain,
             CASE WHEN random() < 0.9 THEN {pick(words.POSITIONS)} END AS position
      FROM (SELECT {ids.base} + g AS id, random() < 0.5 AS zh, {customers.skewed()} AS customer_id, {when()} AS at
            FROM generate_series({first}, {last}) AS g OFFSET 0) AS base OFFSET 0) AS named"""


def leads(first: int, last: int, ids: Span, contacts: Span, owner: str = "NULL::int") -> str:
    statuses = dict(zip(LEAD_STATUSES, (22, 28, 18, 14, 18)))
    return f"""
INSERT INTO leads (lead_id, source, status, contact_id, created_at, updated_at, owner_id)
SELECT {ids.base} + g,
       CASE WHEN random() < 0.97 THEN {pick(words.SOURCES)} ||
            CASE WHEN random() < 0.3 THEN ' ' || {pick(words.CITIES_ZH + words.CITIES_EN)} ELSE '' END END,
       {weighted('r', statuses)},
       CASE WHEN random() < 0.9 THEN {contacts.uniform()} END, at, at, {owner}
FROM (SELECT g, random() AS r, {when()} AS at FROM generate_series({first}, {last}) AS g OFFSET 0) AS base"""


def activities(first: int, last: int, ids: Span, customers: Span, contacts: Span) -> str:
    types = dict(zip(ACTIVITY_TYPES, (30, 20, 30, 10, 10)))
    subjects = bilingual(pick(map(template, words.SUBJECTS_ZH)), pick(map(template, words.SUBJECTS_EN)))
    # an activity with a contact belongs to that contact's customer
    return f"""
INSERT INTO activities (activity_id, customer_id, contact_id, type, subject, description, activity_date,
                        created_at, updated_at)
SELECT s.id, coalesce(c.customer_id, s.customer_pick), c.contact_id, s.type,
       left(format(s.subject, {FILL}), 255), {paragraph('s.sentences')}, s.at, s.at, s.at
FROM (SELECT *, {subjects} AS subject, {WORDS}
      FROM (SELECT {ids.base} + g AS id, random() < 0.5 AS zh,
                   CASE WHEN random() < 0.6 THEN {contacts.uniform()} END AS contact_pick,
                   {customers.skewed()} AS customer_pick, {weighted('type_r', types)} AS type,
                   {when()} AS at, (ARRAY[0, 0, 0, 1, 1, 1, 1, 2, 2, 3])[1 + floor(random() * 10)::int] AS sentences
            FROM (SELECT g, random() AS type_r FROM generate_series({first}, {last}) AS g OFFSET 0) AS g0
            OFFSET 0) AS base OFFSET 0) AS s
LEFT JOIN contacts AS c ON c.contact_id = s.contact_pick"""


def service_tickets(first: int, last: int, ids: Span, customers: Span, owner: str = "NULL::int") -> str:
    """`owner`: an SQL expression of `customer_id` (the customer's owner) or a constant."""
    subjects = bilingual(pick(map(template, words.TICKET_SUBJECTS_ZH)), pick(map(template, words.TICKET_SUBJECTS_EN)))
    recent = dict(zip(TICKET_STATUSES, (40, 35, 17, 8)))
    old = dict(zip(TICKET_STATUSES, (2, 4, 30, 64)))
    priorities = dict(zip(PRIORITIES, (30, 42, 20, 8)))
    return f"""
INSERT INTO service_tickets (ticket_id, customer_id, subject, description, status, priority, created_at, updated_at,
                             owner_id)
SELECT id, customer_id, left(format(subject, {FILL}), 255), {paragraph('sentences')},
       CASE WHEN at > {NOW} - interval '45 days' THEN {weighted('r', recent)} ELSE {weighted('r', old)} END,
       {weighted('p', priorities)}, at, at, {owner}
FROM (SELECT *, {subjects} AS subject, {WORDS}
      FROM (SELECT {ids.base} + g AS id, random() < 0.5 AS zh, {customers.skewed()} AS customer_id,
                   {when()} AS at, random() AS r, random() AS p, 1 + floor(random() * 2)::int AS sentences
            FROM generate_series({first}, {last}) AS g OFFSET 0) AS base OFFSET 0) AS s"""


# the column an audited UPDATE of each table changes in the log rows, and its values
CHANGED = {"customers": ("location", words.CITIES_ZH + words.CITIES_EN),
           "contacts": ("position", words.POSITIONS), "leads": ("status", LEAD_STATUSES),
           "opportunities": ("stage", OPPORTUNITY_STAGES), "activities": ("type", ACTIVITY_TYPES),
           "service_tickets": ("status", TICKET_STATUSES)}
LOGGED_TABLES = {"activities": 40, "contacts": 12, "opportunities": 16, "customers": 12, "service_tickets": 12,
                 "leads": 8}
KINDS = {"insert": 33, "update": 46, "delete": 3, "login": 11, "logout": 6, "login failed": 1}


def logs(first: int, last: int, total: int, ids: Span, spans: dict[str, Span],
         users: list[tuple[int, str]], start: str, span_seconds: float) -> str:
    """Audit rows in time order over five years (log_id grows with created_at, as in production)."""
    user_ids = "ARRAY[" + ",".join(str(u) for u, _ in users) + "]::int[]" if users else "ARRAY[NULL]::int[]"
    names = literal(json.dumps(name, ensure_ascii=False)[1:-1] for _, name in users) if users else "ARRAY['']"
    record = "CASE t " + " ".join(f"WHEN '{t}' THEN {spans[t].uniform()}" for t in LOGGED_TABLES) + " END"
    pk = "CASE t " + " ".join(f"WHEN '{t}' THEN '{PRIMARY_KEYS[t]}'" for t in LOGGED_TABLES) + " END"
    screen = "CASE t " + " ".join(f"WHEN '{t}' THEN '{SCREENS[t]}'" for t in LOGGED_TABLES) + " END"
    column = "CASE t " + " ".join(f"WHEN '{t}' THEN '{c}'" for t, (c, _) in CHANGED.items()) + " END"
    value = "CASE t " + " ".join(f"WHEN '{t}' THEN {pick(v)}" for t, (_, v) in CHANGED.items()) + " END"
    return f"""
INSERT INTO logs (log_id, user_id, action, description, created_at, table_name, record_key)
SELECT id, CASE WHEN kind = 'login failed' OR (data AND by_psql) THEN NULL ELSE user_id END,
       CASE WHEN data THEN kind || ' ' || t ELSE kind END,
       CASE kind
         WHEN 'insert' THEN format('{{"key": {{"%1$s": %2$s}}, "new": {{"%1$s": %2$s}}, "db_role": "crm_app", '
                                   '"via": "web POST /%3$s/add"}}', pk, rec, screen)
         WHEN 'update' THEN format('{{"key": {{"%1$s": %2$s}}, "changes": {{"%4$s": ["%5$s", "%6$s"]}}, '
                                   '"db_role": "crm_app", "via": "web POST /%3$s/edit/%2$s"}}',
                                   pk, rec, screen, col, old_value, new_value)
         WHEN 'delete' THEN format('{{"key": {{"%1$s": %2$s}}, "old": {{"%1$s": %2$s}}, "db_role": "crm_app", '
                                   '"via": "web POST /%3$s/delete/%2$s"}}', pk, rec, screen)
         WHEN 'login failed' THEN format('{{"ip": "%s", "reason": "wrong password", "username": "%s"}}', ip, username)
         ELSE format('{{"ip": "%s", "username": "%s"}}', ip, username) END,
       at, CASE WHEN data THEN t ELSE 'users' END,
       CASE WHEN data THEN rec::text WHEN kind <> 'login failed' THEN user_id::text END
FROM (SELECT *, {record} AS rec, {pk} AS pk, {screen} AS screen, {column} AS col, {value} AS old_value, {value} AS new_value,
             kind IN ('insert', 'update', 'delete') AS data
      FROM (SELECT {ids.base} + g AS id,
                   timestamp '{start}' + interval '1 second' * ({span_seconds:.0f} * (g - 1 + random()) / {total}) AS at,
                   {weighted('kind_r', KINDS)} AS kind, {weighted('table_r', LOGGED_TABLES)} AS t,
                   ({user_ids})[u] AS user_id, ({names})[u] AS username, random() < 0.03 AS by_psql,
                   format('10.%s.%s.%s', floor(random() * 256)::int, floor(random() * 256)::int,
                          1 + floor(random() * 254)::int) AS ip
            FROM (SELECT g, 1 + floor(random() * {max(1, len(users))})::int AS u, random() AS kind_r,
                         random() AS table_r
                  FROM generate_series({first}, {last}) AS g OFFSET 0) AS picked OFFSET 0) AS base
      OFFSET 0) AS s"""
