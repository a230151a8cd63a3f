"""The sales staff of a seeded data set: teams of a Sales Manager (the leader) and Sales Reps, who own the rows.

At scale 1: 200 users in 20 teams of 10; fewer at smaller scales (never under 2 teams
of 3). Each account gets a random password that is neither shown nor kept anywhere:
an admin resets it (the users screen, or `crm create-user`'s reset) before anyone signs
in. A database that has staff in teams already reuses them, so running the seed again
adds rows, not people. Owners are spread with a skew (a few reps own many accounts), and a
customer's opportunities and tickets are mostly owned by the customer's owner: the same
hash of the customer's id picks it in Python (the sealed rows) and in SQL (the tickets).
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import psycopg
from werkzeug.security import generate_password_hash

from app.seed.words import CITIES_EN, FIRST_EN, GIVEN_ZH, LAST_EN, SURNAMES_ZH

USERS_PER_SCALE = 200
TEAM_SIZE = 10
MIN_TEAMS, MIN_TEAM_SIZE = 2, 3
MAX_USERS = 2_000
MANAGER, REP = "Sales Manager", "Sales Rep"
OWNER_SKEW = 1.6  # the first reps of the shuffled list own the most
HASH_MULTIPLIER, HASH_RANGE = 2654435761, 2**32  # Knuth's multiplicative hash of a customer id
# The secret is 32 random bytes nobody ever sees: a work factor cannot make it harder to guess,
# and the default scrypt cost (~50 ms, more on a busy machine) would make 200 accounts take many seconds.
SEED_HASH_METHOD = "pbkdf2:sha256:1000"


@dataclass(frozen=True)
class Staff:
    """The seeded owners, in the order the skew favours (user ids)."""

    owners: tuple[int, ...]
    created_users: int = 0
    created_teams: int = 0

    def sql_pick(self) -> str:
        """An owner drawn with the skew (SQL); NULL when there is nobody."""
        if not self.owners:
            return "NULL::int"
        return f"({self.sql_array()})[1 + floor({len(self.owners)} * power(random(), {OWNER_SKEW}))::int]"

    def sql_of_customer(self, column: str) -> str:
        """The owner of the customer in `column` (SQL), as `of_customer` picks it."""
        if not self.owners:
            return "NULL::int"
        share = f"((({column})::bigint * {HASH_MULTIPLIER}) % {HASH_RANGE})::float8 / {HASH_RANGE}"
        return f"({self.sql_array()})[1 + floor({len(self.owners)} * power({share}, {OWNER_SKEW}))::int]"

    def sql_array(self) -> str:
        return "ARRAY[" + ",".join(map(str, self.owners)) + "]::int[]"

    def pick(self, rng: random.Random) -> int | None:
        return self.owners[int(len(self.owners) * rng.random() ** OWNER_SKEW)] if self.owners else None

    def of_customer(self, customer_id: int) -> int | None:
        if not self.owners:
            return None
        share = (customer_id * HASH_MULTIPLIER) % HASH_RANGE / HASH_RANGE
        return self.owners[int(len(self.owners) * share ** OWNER_SKEW)]


NOBODY = Staff(())


def staff_size(customers: int) -> tuple[int, int]:
    """(teams, users) for a batch of `customers` (1M customers: 20 teams, 200 users)."""
    users = min(MAX_USERS, max(MIN_TEAMS * MIN_TEAM_SIZE, round(USERS_PER_SCALE * customers / 1_000_000)))
    teams = max(MIN_TEAMS, users // TEAM_SIZE)
    return teams, max(users, teams * MIN_TEAM_SIZE)


def _role_ids(conn: psycopg.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT role_name, role_id FROM roles WHERE role_name = ANY(%s)",
                              ([MANAGER, REP],)).fetchall())
    missing = [name for name in (MANAGER, REP) if name not in found]
    if missing:
        raise RuntimeError(f"the role(s) {', '.join(missing)} do not exist; start the app once to create them")
    return found


def existing(conn: psycopg.Connection, seed: int) -> Staff:
    """The active members of teams, in a fixed shuffled order; NOBODY when there are none."""
    ids = [row[0] for row in conn.execute("SELECT user_id FROM users WHERE team_id IS NOT NULL AND active "
                                          "ORDER BY user_id")]
    random.Random(seed).shuffle(ids)
    return Staff(tuple(ids))


def create(conn: psycopg.Connection, teams: int, users: int, seed: int) -> Staff:
    """Add `teams` teams with `users` users in all (in the caller's transaction)."""
    roles = _role_ids(conn)
    rng = random.Random(seed)
    (base,) = conn.execute("SELECT greatest((SELECT coalesce(max(user_id), 0) FROM users), "
                           "(SELECT coalesce(max(team_id), 0) FROM teams))").fetchone()
    team_ids = [conn.execute("INSERT INTO teams (name) VALUES (%s) RETURNING team_id",
                             (f"{CITIES_EN[(base + t) % len(CITIES_EN)].title()} {base + t + 1}",)).fetchone()[0]
                for t in range(teams)]
    rows = []
    for i in range(users):
        team, leader = team_ids[i % teams], i < teams  # the first of each team leads it
        chinese = i % 2 == 0
        first, last = ((rng.choice(GIVEN_ZH) + rng.choice(("", *GIVEN_ZH)), rng.choice(SURNAMES_ZH)) if chinese
                       else (rng.choice(FIRST_EN), rng.choice(LAST_EN)))
        username = f"{'manager' if leader else 'rep'}{base + i + 1}"
        rows.append((username, f"{username}@example.com", first, last,
                     roles[MANAGER if leader else REP], team, leader,
                     generate_password_hash(secrets.token_urlsafe(32), method=SEED_HASH_METHOD)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO users (username, email, first_name, last_name, role_id, team_id, "
                        "password_hash, active) VALUES (%s, %s, %s, %s, %s, %s, %s, true)",
                        [row[:6] + row[7:] for row in rows])
    conn.execute("UPDATE teams t SET leader_id = u.user_id FROM users u "
                 "WHERE u.team_id = t.team_id AND u.role_id = %s AND t.team_id = ANY(%s)",
                 (roles[MANAGER], team_ids))
    ids = [row[0] for row in conn.execute("SELECT user_id FROM users WHERE team_id = ANY(%s) ORDER BY user_id",
                                          (team_ids,))]
    rng.shuffle(ids)
    return Staff(tuple(ids), created_users=users, created_teams=teams)


def ensure(conn: psycopg.Connection, customers: int, seed: int) -> Staff:
    """The staff who own a batch: those in teams already, else new ones sized for the batch."""
    found = existing(conn, seed)
    if found.owners:
        return found
    teams, users = staff_size(customers)
    with conn.transaction():
        return create(conn, teams, users, seed)


BACKFILL_BATCH = 50_000  # keys per statement and transaction: its row locks last well under a second
# table -> (key, the column whose hash picks the owner: a customer's rows follow the customer's owner)
OWNED = {"customers": ("customer_id", "customer_id"), "leads": ("lead_id", "lead_id"),
         "opportunities": ("opportunity_id", "customer_id"), "service_tickets": ("ticket_id", "customer_id")}


def unowned(conn: psycopg.Connection) -> dict[str, int]:
    """Rows without an owner per owned table (an instance seeded before ownership existed)."""
    return {table: conn.execute(f"SELECT count(*) FROM {table} WHERE owner_id IS NULL").fetchone()[0]
            for table in OWNED}


def backfill(conn: psycopg.Connection, staff: Staff, done=lambda table, rows: None,
             batch: int = BACKFILL_BATCH) -> dict[str, int]:
    """Give every unowned row an owner, set-based: per table one UPDATE statement over each range of keys.

    The owner is a hash of the row's customer (of the lead itself for leads) over the staff, with the
    skew: the same on every run and for every row of one customer, nothing drawn per row. Each range is
    its own short transaction (`batch` keys, read through the primary key), so row locks are held
    briefly and a run stopped half-way keeps what it committed; the next goes on with the rows still
    unowned. Each change is audited like any owner change; webhooks are not sent (synthetic owners)."""
    if not staff.owners:
        raise RuntimeError("no staff to own the rows: nobody is in a team")
    total = {}
    for table, (key, hashed) in OWNED.items():
        total[table] = 0
        low, high = conn.execute(f"SELECT min({key}), max({key}) FROM {table} WHERE owner_id IS NULL").fetchone()
        if low is None:
            continue
        statement = (f"UPDATE {table} SET owner_id = {staff.sql_of_customer(hashed)} "
                     f"WHERE {key} >= {{}} AND {key} < {{}} AND owner_id IS NULL")  # SQL's own % inside
        for start in range(int(low), int(high) + 1, batch):
            with conn.transaction():
                conn.execute("SELECT set_config('crm.webhooks', 'off', true), "
                             "set_config('crm.via', 'crm seed --owners-only', true)")
                rows = conn.execute(statement.format(start, start + batch)).rowcount
            total[table] += rows
            done(table, rows)
    return total
