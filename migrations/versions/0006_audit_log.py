"""Audit log: logs partitioned by month, audit triggers on every table, append-only logs.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-29

* `logs` becomes `PARTITION BY RANGE (created_at)`, one partition per month in the
  `audit` schema (kept out of `public`, so the runtime role and Alembic never see
  them), plus a default partition as a safety net that `crm logs maintain` empties.
* `logs.user_id` loses its foreign key: an audit log outlives the users it names
  (RESTRICT would forbid deleting anyone who ever logged in, SET NULL would rewrite
  history). Two columns are added for filtering: `table_name`, `record_key`.
* AFTER ROW triggers write one log row per changed row, generically: `to_jsonb(OLD/NEW)`
  diffs; key and secret columns are looked up by `crm_audit_enable()` (re-run at every
  start-up by `crm logs maintain`); secrets are recorded only as "changed"/"[redacted]".
* Append-only: UPDATE/DELETE/TRUNCATE on logs raise for every role; privileges
  for them are revoked from PUBLIC and from the owner.
"""
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "audit"
# sign-in state changes on every request; sign-ins/outs are logged as events instead
NOT_AUDITED = ("logs", "alembic_version", "user_sessions", "login_rate_windows")

FUNCTIONS = [
    # Columns whose values never go into logs (sensitive by name or by design).
    """
CREATE FUNCTION crm_audit_secret(tbl text, col text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (tbl, col) IN (('users', 'password_hash'), ('customers', 'revenue'),
                          ('opportunities', 'value'))
        OR col ~* '(passw|secret|token|salt|hash|cipher|encrypt|credential|private|otp|(^|_)keys?($|_))'
$$""",
    # One trigger function for every table: AFTER ... FOR EACH ROW for INSERT/UPDATE/DELETE,
    # FOR EACH STATEMENT for TRUNCATE. Arguments: primary-key columns and secret columns
    # (array literals, computed by crm_audit_enable). SECURITY DEFINER: whoever may change a
    # row gets it logged, without needing INSERT on logs themselves.
    """
CREATE FUNCTION crm_audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    pk text[] := TG_ARGV[0]::text[];
    secret text[] := TG_ARGV[1]::text[];
    bookkeeping constant text[] := '{created_at,updated_at,version}';
    who jsonb := jsonb_strip_nulls(jsonb_build_object(
        'db_role', session_user::text, 'via', nullif(current_setting('crm.via', true), '')));
    o jsonb;
    n jsonb;
    r jsonb;
    body jsonb;
    hidden jsonb := '{}';
    c text;
    record_key text;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        INSERT INTO logs (user_id, action, table_name, description)
        VALUES (nullif(current_setting('crm.user_id', true), '')::integer, 'truncate ' || TG_TABLE_NAME,
                TG_TABLE_NAME, who::text);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); END IF;
    r := coalesce(n, o);
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(e.key, CASE WHEN e.key = ANY (secret) THEN '"changed"'::jsonb
                                            ELSE jsonb_build_array(o -> e.key, e.value) END)
        INTO body
        FROM jsonb_each(n) AS e
        WHERE e.value IS DISTINCT FROM o -> e.key AND e.key <> ALL (bookkeeping);
        IF body IS NULL THEN
            RETURN NULL;  -- nothing but bookkeeping changed
        END IF;
        body := jsonb_build_object('changes', body);
    ELSE
        FOREACH c IN ARRAY secret LOOP
            IF r -> c <> 'null'::jsonb THEN
                hidden := hidden || jsonb_build_object(c, '[redacted]');
            END IF;
        END LOOP;
        body := jsonb_build_object(CASE TG_OP WHEN 'INSERT' THEN 'new' ELSE 'old' END,
                                   (r - bookkeeping - secret) || hidden);
    END IF;
    IF cardinality(pk) = 1 THEN
        record_key := r ->> pk[1];
        body := jsonb_build_object('key', jsonb_build_object(pk[1], r -> pk[1])) || body;
    ELSIF cardinality(pk) > 1 THEN
        record_key := (SELECT string_agg(r ->> k, ',' ORDER BY i) FROM unnest(pk) WITH ORDINALITY AS u(k, i));
        body := jsonb_build_object('key', (SELECT jsonb_object_agg(k, r -> k) FROM unnest(pk) AS k)) || body;
    END IF;
    INSERT INTO logs (user_id, action, table_name, record_key, description)
    VALUES (nullif(current_setting('crm.user_id', true), '')::integer, lower(TG_OP) || ' ' || TG_TABLE_NAME,
            TG_TABLE_NAME, record_key, (body || who)::text);
    RETURN NULL;
END
$$""",
    # Attach (or refresh, when its key or secret columns changed) the audit triggers of a
    # table; `crm logs maintain` calls it at start-up for every table, old and new.
    """
CREATE FUNCTION crm_audit_enable(tbl regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
    pk text[];
    secret text[];
    args text;
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY k.i), '{}') INTO pk
    FROM pg_index AS x
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)
    JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
    WHERE x.indrelid = tbl AND x.indisprimary;
    secret := ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = tbl AND attnum > 0
                    AND NOT attisdropped AND crm_audit_secret(name, attname::text) ORDER BY attnum);
    args := format('%L, %L', pk, secret);
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_audit'
               AND encode(tgargs, 'escape') = pk::text || '\\000' || secret::text || '\\000') THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name || '_audit', tbl);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name || '_audit_truncate', tbl);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION crm_audit(%s)', name || '_audit', tbl, args);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION crm_audit(%s)', name || '_audit_truncate', tbl, args);
    RETURN true;
END
$$""",
    """
CREATE FUNCTION crm_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'logs is append-only: % is not allowed (old months leave by dropping partitions)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$""",
    # Protect one partition: TRUNCATE statement triggers are not inherited from the parent.
    """
CREATE FUNCTION crm_logs_protect(part regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'logs_no_truncate') THEN
        EXECUTE format('CREATE TRIGGER logs_no_truncate BEFORE TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION crm_logs_append_only()', part);
    END IF;
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', part);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM CURRENT_USER', part);
END
$$""",
    # Create the monthly partition holding `month` (idempotent); returns its name.
    """
CREATE FUNCTION crm_logs_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    start date := date_trunc('month', month)::date;
    name text := 'logs_' || to_char(start, 'YYYY_MM');
BEGIN
    IF to_regclass('audit.' || name) IS NULL THEN
        EXECUTE format('CREATE TABLE audit.%I PARTITION OF logs FOR VALUES FROM (%L) TO (%L)',
                       name, start::timestamp, (start + interval '1 month')::timestamp);
        PERFORM crm_logs_protect(('audit.' || quote_ident(name))::regclass);
    END IF;
    RETURN name;
END
$$""",
]


SEED_COLUMNS = """
            log_id integer NOT NULL DEFAULT nextval('logs_log_id_seq'),
            user_id integer,
            action varchar(255) NOT NULL,
            description text,
            created_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),"""


def _replace_logs(keep_as: str, drop_indexes: str, rest: str) -> None:
    """Rename logs to `keep_as` and create a new logs table; the id sequence (and so every
    existing log_id) survives the swap."""
    op.execute("ALTER SEQUENCE logs_log_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE logs RENAME TO {keep_as}")
    op.execute(f"ALTER TABLE {keep_as} RENAME CONSTRAINT pk_logs TO pk_{keep_as}")
    op.execute(f"DROP INDEX {drop_indexes}")
    op.execute(f"CREATE TABLE logs ({SEED_COLUMNS}{rest}")
    op.execute("ALTER SEQUENCE logs_log_id_seq OWNED BY logs.log_id")


def upgrade():
    op.execute(f"CREATE SCHEMA {SCHEMA}")
    for function in FUNCTIONS:
        op.execute(function)
    _replace_logs("logs_unpartitioned", "ix_logs_user_id, ix_logs_created_at", """
            table_name varchar(63),
            record_key varchar(255),
            CONSTRAINT pk_logs PRIMARY KEY (log_id, created_at)
        ) PARTITION BY RANGE (created_at)""")
    op.execute("CREATE INDEX ix_logs_created_at_log_id ON logs (created_at, log_id)")
    op.execute("CREATE INDEX ix_logs_user_id ON logs (user_id, created_at, log_id)")
    op.execute("CREATE INDEX ix_logs_table_name_record_key ON logs (table_name, record_key, created_at, log_id)")
    op.execute("CREATE INDEX ix_logs_action ON logs (action, created_at, log_id)")
    op.execute(f"CREATE TABLE {SCHEMA}.logs_default PARTITION OF logs DEFAULT")
    # every month that holds old rows, and this month + 3 ahead
    op.execute("""
        SELECT crm_logs_partition(m::date) FROM generate_series(
            date_trunc('month', least((SELECT min(created_at) FROM logs_unpartitioned), now() AT TIME ZONE 'utc')),
            date_trunc('month', now() AT TIME ZONE 'utc') + interval '3 months', interval '1 month') AS m""")
    op.execute("INSERT INTO logs (log_id, user_id, action, description, created_at) "
               "SELECT log_id, user_id, action, description, created_at FROM logs_unpartitioned")
    op.execute("DROP TABLE logs_unpartitioned")

    op.execute("CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE ON logs "
               "FOR EACH ROW EXECUTE FUNCTION crm_logs_append_only()")
    op.execute("SELECT crm_logs_protect('logs'::regclass)")
    op.execute(f"SELECT crm_logs_protect('{SCHEMA}.logs_default'::regclass)")
    op.execute(f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC")
    # the rebuilt table got the default privileges of migration 0003: the runtime role may
    # only append to and read the audit log
    op.execute("DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_app') THEN "
               "REVOKE ALL ON logs FROM crm_app; GRANT SELECT, INSERT ON logs TO crm_app; "
               "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO crm_app; END IF; END $$")

    op.execute(f"""
        SELECT crm_audit_enable(c.oid) FROM pg_class AS c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname NOT IN {NOT_AUDITED!r}""")


def downgrade():
    op.execute("""
        DO $$ DECLARE t record; BEGIN
            FOR t IN SELECT tgname, tgrelid::regclass AS rel FROM pg_trigger
                     WHERE tgname ~ '_audit(_truncate)?$' AND NOT tgisinternal LOOP
                EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
            END LOOP;
        END $$""")
    _replace_logs("logs_partitioned", "ix_logs_user_id", """
            CONSTRAINT pk_logs PRIMARY KEY (log_id)
        )""")
    op.execute("INSERT INTO logs SELECT log_id, user_id, action, description, created_at FROM logs_partitioned")
    op.execute("DROP TABLE logs_partitioned CASCADE")
    # rows may name deleted users: keep them, check only new rows
    op.execute("ALTER TABLE logs ADD CONSTRAINT fk_logs_user_id_users FOREIGN KEY (user_id) "
               "REFERENCES users (user_id) ON DELETE RESTRICT NOT VALID")
    op.execute("CREATE INDEX ix_logs_created_at ON logs (created_at)")
    op.execute("CREATE INDEX ix_logs_user_id ON logs (user_id)")
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    for name in ("crm_logs_partition(date)", "crm_logs_protect(regclass)", "crm_logs_append_only()",
                 "crm_audit_enable(regclass)", "crm_audit()", "crm_audit_secret(text, text)"):
        op.execute(f"DROP FUNCTION {name}")
