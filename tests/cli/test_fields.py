"""`crm fields`: a real column, its index, the catalogue, the audit log and the schema version, all checked in SQL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from app.extensions import db
from app.ops.embedded_db import RUNTIME_ROLE
from tests.support.apps import make_app
from tests.support.cli import crm_cli
from tests.support.fields import fapp, owner  # noqa: F401  (module-scoped fixtures)

DB = "crm_fields_cli"


def fields(*args):
    return ["fields", *args]


def version(owner) -> int:
    return owner("SELECT version FROM crm_schema_version")[0][0]


def column_type(owner, table, column):
    rows = owner("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                 "AND attname = :c AND NOT attisdropped", t=table, c=column)
    return rows[0][0] if rows else None


def indexes(owner, table, column):
    return {name: valid for name, valid in owner(
        "SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE x.indrelid = CAST(:t AS regclass) AND c.relname LIKE :p", t=table, p=f"ix_{table}_{column}_%")}


def test_add_each_type_makes_column_index_catalogue_audit_and_version(fapp, owner):
    before = version(owner)
    filenode = owner("SELECT relfilenode FROM pg_class WHERE relname = 'customers'")[0][0]
    cases = [  # (table, name, options, column type, index kinds)
        ("customers", "nickname", ["--type", "text", "--label-zh", "昵称"], "character varying(255)", {"trgm", "sort"}),
        ("customers", "notes_long", ["--type", "long_text"], "text", {"trgm", "words", "bigrams"}),
        ("leads", "score", ["--type", "number", "--required"], "numeric", {"sort"}),
        ("opportunities", "budget", ["--type", "amount"], "numeric(18,2)", {"sort"}),
        ("customers", "secret_budget", ["--type", "amount", "--financial"], "bytea", {"band_sort"}),
        ("contacts", "birthday", ["--type", "date"], "date", {"sort"}),
        ("activities", "follow_up_at", ["--type", "datetime"], "timestamp without time zone", {"sort"}),
        ("service_tickets", "escalated", ["--type", "boolean"], "boolean", set()),
        ("customers", "tier", ["--type", "choice", "--choices", "gold=Gold=金牌,silver"], "text", {"sort"}),
        ("service_tickets", "related_lead", ["--type", "link:leads"], "integer", {"sort"}),
    ]
    for table, name, options, sql_type, kinds in cases:
        result = crm_cli(fapp, *fields("add", table, name, *options))
        assert result.exit_code == 0, result.output
        assert column_type(owner, table, name) == sql_type
        assert indexes(owner, table, name) == {f"ix_{table}_{name}_{k}": True for k in kinds}
    # one for the column, one more once its indexes are built (the lists sort by a new B-tree)
    assert version(owner) == before + len(cases) + sum(1 for case in cases if case[4])
    # no table rewrite: the table keeps its file
    assert owner("SELECT relfilenode FROM pg_class WHERE relname = 'customers'")[0][0] == filenode
    assert column_type(owner, "customers", "secret_budget_band") == "smallint"
    row = owner("SELECT field_type, label_en, label_zh, choices, required, financial, state, source "
                "FROM custom_fields WHERE column_name = 'tier'")[0]
    assert row == ("choice", "Tier", None, [{"value": "gold", "label_en": "Gold", "label_zh": "金牌"},
                                            {"value": "silver", "label_en": "silver", "label_zh": "silver"}],
                   False, False, "active", "admin")
    assert owner("SELECT label_en, label_zh, required FROM custom_fields WHERE column_name = 'nickname'") == \
        [("Nickname", "昵称", False)]
    # constraints enforced and validated
    checks = dict(owner("SELECT conname, convalidated FROM pg_constraint WHERE conname LIKE 'ck_customers_tier%' "
                        "OR conname LIKE 'fk_service_tickets_related_lead%'"))
    assert checks == {"ck_customers_tier_choice": True, "fk_service_tickets_related_lead_leads": True}
    with pytest.raises(Exception, match="ck_customers_tier_choice"):
        owner("INSERT INTO customers (name, tier) VALUES ('Bronze Co', 'bronze')")
    owner("INSERT INTO customers (name, tier) VALUES ('Gold Co', 'gold')")
    # the audit log: the DDL, and the catalogue row's insert by its trigger
    logged = owner("SELECT action, description FROM logs WHERE table_name = 'custom_fields' "
                   "AND record_key = (SELECT field_id::text FROM custom_fields WHERE column_name = 'tier') "
                   "ORDER BY log_id")
    assert [a for a, _d in logged] == ["insert custom_fields", "field add"]
    assert json.loads(logged[1][1])["ddl"].startswith('ALTER TABLE "customers" ADD COLUMN "tier" text')
    longest = "resolution_commitment_note_for_the_team1"  # 40 characters: its index names need shortening
    assert crm_cli(fapp, *fields("add", "service_tickets", longest, "--type", "long_text")).exit_code == 0
    built = owner("SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                  "WHERE x.indrelid = 'service_tickets'::regclass AND pg_get_indexdef(x.indexrelid) LIKE :d",
                  d=f"%({longest})%")
    assert len(built) == 2 and all(valid and len(name) <= 63 for name, valid in built)
    listed = crm_cli(fapp, *fields("list", "customers")).output
    assert "customers.tier  choice" in listed and "gold=Gold=金牌" in listed and "leads.score" not in listed


@pytest.mark.parametrize("args, message", [
    (["customers", "select", "--type", "text"], "SQL keyword"),
    (["customers", "Big-Name", "--type", "text"], "lower case letters"),
    (["customers", "x" * 41, "--type", "text"], "at most 40"),
    (["customers", "name", "--type", "text"], "already has a column"),
    (["contacts", "customer", "--type", "text"], "already has a column"),  # the model's relationship
    (["customers", "size_band", "--type", "number"], "_band"),
    (["users", "nickname2", "--type", "text"], "Fields can be added to"),
    (["customers", "nickname2", "--type", "json"], "Unknown type"),
    (["customers", "nickname2", "--type", "link:users"], "Fields can be added to"),
    (["customers", "nickname2", "--type", "text", "--financial"], "Only an amount"),
    (["customers", "nickname2", "--type", "choice"], "needs its values"),
    (["customers", "nickname2", "--type", "choice", "--choices", "a,a"], "given twice"),
    (["customers", "nickname2", "--type", "choice", "--choices", "a b"], "choice's value"),
])
def test_bad_fields_are_refused_and_nothing_is_written(fapp, owner, args, message):
    before = version(owner), owner("SELECT count(*) FROM custom_fields")[0][0]
    result = crm_cli(fapp, *fields("add", *args))
    assert result.exit_code == 1 and message in result.output, result.output
    assert (version(owner), owner("SELECT count(*) FROM custom_fields")[0][0]) == before
    assert column_type(owner, "customers", "nickname2") is None


def test_remove_keeps_data_restore_and_purge_only_after_remove_and_saved_views(fapp, owner):
    assert crm_cli(fapp, *fields("add", "leads", "campaign", "--type", "text")).exit_code == 0
    owner("INSERT INTO leads (campaign) VALUES ('spring')")
    refused = crm_cli(fapp, *fields("purge", "leads", "campaign"))
    assert refused.exit_code == 1 and "Remove campaign first" in refused.output
    assert crm_cli(fapp, *fields("remove", "leads", "campaign")).exit_code == 0
    assert owner("SELECT state FROM custom_fields WHERE column_name = 'campaign'") == [("hidden",)]
    assert owner("SELECT count(*) FROM leads WHERE campaign = 'spring'") == [(1,)]  # data kept
    again = crm_cli(fapp, *fields("remove", "leads", "campaign"))
    assert again.exit_code == 1 and "already removed" in again.output
    assert crm_cli(fapp, *fields("restore", "leads", "campaign")).exit_code == 0
    assert crm_cli(fapp, *fields("remove", "leads", "campaign")).exit_code == 0
    owner("INSERT INTO saved_views (user_id, view_name, name, args) SELECT user_id, 'LeadView', 'Spring', "
          "'{\"_flt_0_campaign\": [\"spring\"]}' FROM users WHERE username = 'admin'")
    assert crm_cli(fapp, *fields("restore", "leads", "campaign")).exit_code == 0
    warned = crm_cli(fapp, *fields("remove", "leads", "campaign"))
    assert warned.exit_code == 0 and "still used by (they leave it out while it is removed): saved view " \
        "“Spring (admin)”" in warned.output
    used = crm_cli(fapp, *fields("purge", "leads", "campaign"))
    assert used.exit_code == 1 and "Spring (admin)" in used.output
    assert column_type(owner, "leads", "campaign") == "character varying(255)"
    owner("DELETE FROM saved_views WHERE name = 'Spring'")
    assert crm_cli(fapp, *fields("purge", "leads", "campaign")).exit_code == 0
    assert column_type(owner, "leads", "campaign") is None
    assert owner("SELECT count(*) FROM custom_fields WHERE column_name = 'campaign'") == [(0,)]
    assert [a for (a,) in owner("SELECT action FROM logs WHERE action LIKE 'field %' AND description LIKE "
                                "'%\"campaign\"%' ORDER BY log_id")] == \
        ["field add", "field remove", "field restore", "field remove", "field restore", "field remove",
         "field purge"]
    missing = crm_cli(fapp, *fields("restore", "leads", "campaign"))
    assert missing.exit_code == 1 and "has no custom field campaign" in missing.output


def test_what_uses_a_field_is_named_and_force_takes_it_out_of_saved_views(fapp, owner):
    assert crm_cli(fapp, *fields("add", "leads", "region_code", "--type", "text", "--label-zh", "区域")).exit_code == 0
    admin = "(SELECT user_id FROM users WHERE username = 'admin')"
    owner(f"INSERT INTO saved_views (user_id, view_name, name, args, columns) VALUES ({admin}, 'LeadView', 'North', "
          "'{\"_flt_0_region_code\": [\"N\"], \"_flt_0_status\": [\"new\"], \"_oc_LeadView\": [\"region_code\"], "
          "\"_od_LeadView\": [\"asc\"], \"q\": [\"x\"]}', '[\"source\", \"region_code\"]'), "
          f"({admin}, 'LeadView', 'Other', '{{\"_flt_0_status\": [\"new\"]}}', '[]')")
    # CSV imports checked and waiting for confirmation: their rows keyed by column (one gives the field a value)
    owner(f"INSERT INTO csv_uploads (upload_id, user_id, table_name, filename, encoding, content) VALUES "
          f"('t1', {admin}, 'leads', 'north.csv', 'utf-8', :data), ('t2', {admin}, 'leads', 'plain.csv', 'utf-8', "
          ":plain)", data=json.dumps({"rows": [{"source": "web", "region_code": None},
                                               {"source": "web", "region_code": "北"}]}).encode(),
          plain=json.dumps({"rows": [{"source": "web", "region_code": None}]}).encode())
    owner(f"INSERT INTO bulk_jobs (user_id, screen, table_name, action, arguments, total) VALUES ({admin}, "
          "'LeadView', 'leads', 'set', '{\"args\": {}, \"column\": \"region_code\", \"value\": \"S\"}', 5)")
    busy = crm_cli(fapp, *fields("remove", "leads", "region_code"))
    assert busy.exit_code == 1 and "bulk job in progress “#" in busy.output and "set (admin)" in busy.output
    owner("UPDATE bulk_jobs SET status = 'done'")
    removed = crm_cli(fapp, *fields("remove", "leads", "region_code"))
    assert removed.exit_code == 0 and "saved view “North (admin)”; CSV import waiting for confirmation " \
        "“north.csv (admin)”" in removed.output and "Other" not in removed.output and "plain" not in removed.output
    refused = crm_cli(fapp, *fields("purge", "leads", "region_code"))
    assert refused.exit_code == 1 and "North (admin)" in refused.output and "north.csv" in refused.output
    assert column_type(owner, "leads", "region_code") == "character varying(255)"
    forced = crm_cli(fapp, *fields("purge", "leads", "region_code", "--force"))
    assert forced.exit_code == 0 and "taken out of: saved view “North (admin)”" in forced.output
    assert column_type(owner, "leads", "region_code") is None
    # the view keeps everything else: its other filter, the quick search, its other column; sort and order gone
    assert owner("SELECT args, columns FROM saved_views WHERE name = 'North'") == \
        [({"_flt_0_status": ["new"], "q": ["x"]}, ["source"])]
    assert owner("SELECT count(*) FROM csv_uploads") == [(2,)]  # the user's file stays; its import is refused


def test_sync_registers_hand_made_columns_and_rebuilds_broken_indexes(fapp, owner, pg):
    owner("ALTER TABLE contacts ADD COLUMN linkedin_url varchar(200), ADD COLUMN shoe_size integer, "
          "ADD COLUMN raw_blob bytea, ADD COLUMN main_lead integer REFERENCES leads (lead_id)")
    assert crm_cli(fapp, *fields("add", "contacts", "hobby", "--type", "text")).exit_code == 0
    pg.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_contacts_hobby_trgm'::regclass",
               database=DB)  # as a build interrupted half-way leaves it
    before = version(owner)
    result = crm_cli(fapp, *fields("sync"))
    assert result.exit_code == 0, result.output
    rows = owner("SELECT column_name, field_type, label_en, source FROM custom_fields "
                 "WHERE table_name = 'contacts' AND source = 'sync' ORDER BY field_id")
    assert rows == [("linkedin_url", "text", "Linkedin url", "sync"), ("shoe_size", "number", "Shoe size", "sync"),
                    ("main_lead", "link:leads", "Main lead", "sync")]
    assert "skipped contacts.raw_blob: type bytea" in result.output
    assert indexes(owner, "contacts", "hobby") == {"ix_contacts_hobby_trgm": True, "ix_contacts_hobby_sort": True}
    # a DBA's short varchar is sorted by a B-tree too; unbounded text only searched (an entry holds ~2.7 kB)
    assert indexes(owner, "contacts", "linkedin_url") == {"ix_contacts_linkedin_url_trgm": True,
                                                          "ix_contacts_linkedin_url_sort": True}
    assert version(owner) == before + 2  # the catalogue's changes, then the indexes built
    owner("ALTER TABLE contacts DROP COLUMN shoe_size")  # a DBA drops one: the catalogue forgets it
    assert "forgot contacts.shoe_size" in crm_cli(fapp, *fields("sync")).output
    assert owner("SELECT count(*) FROM custom_fields WHERE column_name = 'shoe_size'") == [(0,)]
    assert crm_cli(fapp, *fields("sync")).output.splitlines()[-1] == "fields in sync"


def test_choices_only_grow_and_types_only_widen(fapp, owner):
    assert crm_cli(fapp, *fields("add", "leads", "grade", "--type", "choice", "--choices", "a,b")).exit_code == 0
    shrinking = crm_cli(fapp, *fields("choices", "leads", "grade", "--choices", "a"))
    assert shrinking.exit_code == 1 and "cannot be taken away" in shrinking.output and ": b." in shrinking.output
    grown = crm_cli(fapp, *fields("choices", "leads", "grade", "--choices", "a=Alpha=甲,b,c"))
    assert grown.exit_code == 0, grown.output
    owner("INSERT INTO leads (grade) VALUES ('c')")  # the check follows the new values
    with pytest.raises(Exception, match="ck_leads_grade_choice"):
        owner("INSERT INTO leads (grade) VALUES ('d')")
    assert owner("SELECT convalidated FROM pg_constraint WHERE conname = 'ck_leads_grade_choice'") == [(True,)]
    assert owner("SELECT choices->0->>'label_zh' FROM custom_fields WHERE column_name = 'grade'") == [("甲",)]
    narrowing = crm_cli(fapp, *fields("widen", "leads", "grade", "--type", "number"))
    assert narrowing.exit_code == 1 and "can only be widened" in narrowing.output
    assert crm_cli(fapp, *fields("widen", "leads", "grade", "--type", "text")).exit_code == 0
    owner("INSERT INTO leads (grade) VALUES ('anything')")  # no check any more
    assert indexes(owner, "leads", "grade") == {"ix_leads_grade_trgm": True}
    assert owner("SELECT field_type, choices FROM custom_fields WHERE column_name = 'grade'") == [("text", None)]
    assert column_type(owner, "leads", "grade") == "text"  # a choice stays text: varchar(255) would scan the table
    assert crm_cli(fapp, *fields("add", "leads", "motto", "--type", "text")).exit_code == 0
    filenode = owner("SELECT relfilenode FROM pg_class WHERE relname = 'leads'")[0][0]
    assert crm_cli(fapp, *fields("widen", "leads", "motto", "--type", "long_text")).exit_code == 0
    assert column_type(owner, "leads", "motto") == "text"  # varchar to text: no rewrite, and no sort index
    assert owner("SELECT relfilenode FROM pg_class WHERE relname = 'leads'")[0][0] == filenode
    assert set(indexes(owner, "leads", "motto")) == {f"ix_leads_motto_{k}" for k in ("trgm", "words", "bigrams")}


def test_runtime_role_has_no_ddl_and_only_reads_the_catalogue(fapp, pg, owner):
    assert crm_cli(fapp, *fields("add", "customers", "region_code", "--type", "text")).exit_code == 0
    engine = create_engine(pg.url(DB, RUNTIME_ROLE))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT has_column_privilege('customers', 'region_code', 'SELECT') "
                                     "AND has_column_privilege('customers', 'region_code', 'UPDATE') "
                                     "AND has_column_privilege('customers', 'region_code', 'INSERT')")).scalar()
            assert conn.execute(text("SELECT count(*) FROM custom_fields")).scalar() > 0
        for statement in ("ALTER TABLE customers ADD COLUMN sneaky text", "CREATE INDEX sneaky ON customers (name)",
                          "INSERT INTO custom_fields (table_name, column_name, field_type) VALUES ('leads', 'x', 'text')",
                          "UPDATE crm_schema_version SET version = version + 1",
                          "ALTER TABLE customers DROP COLUMN region_code"):
            with engine.connect() as conn, pytest.raises(ProgrammingError, match="must be owner|permission denied"):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    # an app whose "owner" URL is the runtime role (an external server without MIGRATION_DATABASE_URL)
    runtime_only = make_app(pg, pg.url(DB), MIGRATION_DATABASE_URL=pg.url(DB, RUNTIME_ROLE))
    try:
        refused = crm_cli(runtime_only, *fields("add", "customers", "region_name", "--type", "text"))
        assert refused.exit_code == 1 and "MIGRATION_DATABASE_URL" in refused.output
        assert column_type(owner, "customers", "region_name") is None
    finally:
        with runtime_only.app_context():
            db.engine.dispose()


def test_an_app_without_a_database_leaves_the_next_app_startable(fapp, pg, owner):
    """The screens' derived columns follow the models in this process, even when no database could be read.

    One app maps a custom field and derives its screens and API with it; a second app finds no database
    (first run) and unmaps it; a third app must still start: its views are built from the derived
    columns before it reflects its own database.
    """
    assert crm_cli(fapp, *fields("add", "customers", "alias_name", "--type", "text")).exit_code == 0
    apps = [make_app(pg, pg.url("crm_fields_not_created"))]  # no such database: the models keep declared columns
    apps.append(make_app(pg, pg.url(DB)))  # raised AttributeError: 'Customer' has no 'alias_name'
    try:
        with apps[1].test_client() as client:
            assert client.get("/health").status_code == 200
    finally:
        for application in apps:
            with application.app_context():
                db.engine.dispose()
