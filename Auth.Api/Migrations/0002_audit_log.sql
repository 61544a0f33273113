-- The audit log: who did what to which organization, append-only and hash-chained per organization.
-- No foreign key to organizations: an entry outlives anything it names. Hashes are computed by Auth.Api
-- (AuditHash.cs, the encoding is in the README's "Audit log" section); sequence numbers run 1, 2, 3, ...
-- per organization, each appended under a transaction-scoped advisory lock on the organization.
CREATE TABLE auth.audit_log (
    organization_id uuid NOT NULL,
    sequence bigint NOT NULL CHECK (sequence > 0),
    id uuid NOT NULL UNIQUE,
    occurred_at timestamptz NOT NULL,
    source text NOT NULL,
    phase text NOT NULL CHECK (phase IN ('done', 'intent', 'outcome')),
    actor_kind text NOT NULL CHECK (actor_kind IN ('session', 'api_key')),
    actor_id text NOT NULL,
    actor_role text,
    project_id uuid,
    action text NOT NULL,
    method text NOT NULL,
    route text NOT NULL,
    target_id text,
    detail text,
    status integer,
    correlation_id text,
    client_address text,
    previous_hash bytea NOT NULL CHECK (length(previous_hash) = 32),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (organization_id, sequence)
);
CREATE INDEX audit_log_occurred_at ON auth.audit_log (organization_id, occurred_at);

-- Append-only, enforced by the database for every role: an UPDATE, DELETE or TRUNCATE is refused. Only a
-- superuser can get around it (session_replication_role = replica skips triggers), and the chain then
-- shows the change (GET /v1/audit-log/verify).
CREATE FUNCTION auth.audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auth.audit_log is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON auth.audit_log
    FOR EACH ROW EXECUTE FUNCTION auth.audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON auth.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION auth.audit_log_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON auth.audit_log FROM PUBLIC;
