-- OTLP log records. README.md, "Storage", documents the table and the identity a record is stored under.

-- One row per log record. otlp is the LogRecord exactly as received, from which export rebuilds it (with
-- the resource and scope rows it points to, shared with spans); every other column is a projection for
-- queries. The attributes live only in otlp, plus attr_hashes for exact filters (as spans keep them).
DO $$
DECLARE
    columns CONSTANT text := $columns$
        project_id          uuid        NOT NULL,
        time                timestamptz NOT NULL,  -- the partition key: time_unix_nano, else observed time, else received_at, to the microsecond
        time_unix_nano      bigint      NOT NULL,  -- as sent (0: not set)
        observed_unix_nano  bigint      NOT NULL,  -- as sent (0: not set)
        record_id           uuid        NOT NULL,  -- the identity: SHA-256 of project, resource, scope and record bytes (README "Storage")
        severity_number     smallint    NOT NULL,  -- OTLP SeverityNumber as sent, 0..24
        severity_text       text,
        severity_range      smallint,              -- 1 trace, 2 debug, 3 info, 4 warn, 5 error, 6 fatal (from the number, else the text); null unknown
        body_text           text,                  -- a string body as is, any other body as OTLP-style JSON; for text search
        event_name          text,                  -- event_name (field 12), else the event.name attribute
        trace_id            uuid,                  -- the 16 id bytes in order; null when the record names no trace
        span_id             bigint,                -- the 8 id bytes, big-endian; null when the record names no span
        service_name        text,                  -- the resource's service.name
        attr_hashes         integer[]   NOT NULL,  -- hashtext(key || '=' || value) of each attribute (Otlp/GenAi/AttributeHash.cs)
        resource_id         uuid        NOT NULL,  -- telemetry.resources (project_id, resource_id)
        scope_id            uuid        NOT NULL,  -- telemetry.scopes (project_id, scope_id)
        otlp                bytea       NOT NULL,  -- the LogRecord message as received
        received_at         timestamptz NOT NULL,  -- when ingest accepted it
        ingest_xid          xid8        NOT NULL DEFAULT pg_current_xact_id()  -- the storing transaction: export snapshots (as 0002 for spans)
    $columns$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE 'CREATE TABLE telemetry.logs (' || columns || ')';
        EXECUTE $sql$SELECT create_hypertable('telemetry.logs', 'time',
                     chunk_time_interval => INTERVAL '1 day', create_default_indexes => false)$sql$;
        EXECUTE $sql$ALTER TABLE telemetry.logs SET (timescaledb.compress,
                     timescaledb.compress_segmentby = 'project_id',
                     timescaledb.compress_orderby = 'time, record_id')$sql$;
        EXECUTE $sql$SELECT add_compression_policy('telemetry.logs', INTERVAL '7 days')$sql$;
    ELSE
        -- Day partitions created by the processor as batches need them, like spans.
        EXECUTE 'CREATE TABLE telemetry.logs (' || columns || ') PARTITION BY RANGE (time)';
    END IF;
END $$;

DO $$
BEGIN
    ALTER TABLE telemetry.logs ALTER COLUMN body_text SET COMPRESSION lz4,
                               ALTER COLUMN otlp SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: large log values use the default compression';
END $$;

-- Idempotency (a record sent twice is stored once), export order (project, time, record_id) and the
-- dashboard list (the same index read backwards, newest first).
CREATE UNIQUE INDEX logs_key ON telemetry.logs (project_id, time, record_id);
-- A trace's records, and a span's GenAI events whichever of span and event arrives first.
CREATE INDEX logs_by_span ON telemetry.logs (project_id, trace_id, span_id) WHERE trace_id IS NOT NULL;
-- Events by name (gen_ai.user.message, gen_ai.choice, ...).
CREATE INDEX logs_by_event ON telemetry.logs (project_id, event_name, time) WHERE event_name IS NOT NULL;
-- attr_hashes gets its GIN index with the query that uses it (attribute filters), as for spans.

-- Body text search (q=) by trigrams where pg_trgm can be enabled; a sequential filter within the time window otherwise.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX logs_body_trgm ON telemetry.logs USING gin (body_text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): body search scans the time window', SQLERRM;
END $$;

-- Day partitions of a partitioned telemetry table (partitioned storage only), named <table>_YYYYMMDD:
-- create the missing ones, list them, drop those before a cutoff. Callers take turns on an advisory lock
-- per table. The span functions of 0001 are the same for 'spans', and now call these.
CREATE FUNCTION telemetry.ensure_day_partitions(parent text, days date[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    partition_name text;
    compressed record;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('telemetry.' || parent || ' partitions', 0));
    FOREACH day IN ARRAY days LOOP
        partition_name := parent || '_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(format('telemetry.%I', partition_name)) IS NULL THEN
            EXECUTE format('CREATE TABLE telemetry.%I PARTITION OF telemetry.%I FOR VALUES FROM (%L) TO (%L)',
                           partition_name, parent,
                           day::timestamp AT TIME ZONE 'UTC',
                           (day + 1)::timestamp AT TIME ZONE 'UTC');
            -- A partition does not inherit its parent's column compression.
            FOR compressed IN
                SELECT attname, CASE attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END AS method
                FROM pg_attribute
                WHERE attrelid = format('telemetry.%I', parent)::regclass AND attnum > 0 AND NOT attisdropped AND attcompression <> ''
            LOOP
                EXECUTE format('ALTER TABLE telemetry.%I ALTER COLUMN %I SET COMPRESSION %s',
                               partition_name, compressed.attname, compressed.method);
            END LOOP;
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

CREATE FUNCTION telemetry.day_partitions(parent text) RETURNS SETOF date
LANGUAGE sql STABLE AS $$
    SELECT to_date(substr(c.relname, length(parent) + 2), 'YYYYMMDD')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = format('telemetry.%I', parent)::regclass AND c.relname ~ ('^' || parent || '_[0-9]{8}$')
$$;

CREATE FUNCTION telemetry.drop_day_partitions_before(parent text, cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('telemetry.' || parent || ' partitions', 0));
    FOR day IN SELECT d FROM telemetry.day_partitions(parent) AS d WHERE d + 1 <= cutoff ORDER BY d LOOP
        EXECUTE format('DROP TABLE telemetry.%I', parent || '_' || to_char(day, 'YYYYMMDD'));
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- The span functions, kept for callers of 0001's names, as the general ones for 'spans' (same lock key).
CREATE OR REPLACE FUNCTION telemetry.ensure_span_partitions(days date[]) RETURNS integer
LANGUAGE sql AS $$ SELECT telemetry.ensure_day_partitions('spans', days) $$;

CREATE OR REPLACE FUNCTION telemetry.span_partition_days() RETURNS SETOF date
LANGUAGE sql STABLE AS $$ SELECT telemetry.day_partitions('spans') $$;

CREATE OR REPLACE FUNCTION telemetry.drop_span_partitions_before(cutoff date) RETURNS integer
LANGUAGE sql AS $$ SELECT telemetry.drop_day_partitions_before('spans', cutoff) $$;
