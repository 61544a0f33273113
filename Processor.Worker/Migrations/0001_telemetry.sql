-- The telemetry schema: spans, traces, and the deduplicated resources and scopes they point to.
-- Owned and migrated by Processor.Worker; Export.Api reads it. README.md, "Storage", documents it.

-- TimescaleDB when the server has it installed and preloaded; plain PostgreSQL otherwise. Decided before
-- trying: CREATE EXTENSION of a TimescaleDB that is installed but not in shared_preload_libraries is
-- FATAL (it ends the connection), which no EXCEPTION clause can catch. The processor logs which layout
-- it found and why (SpanStorage).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND EXISTS (SELECT 1 FROM unnest(string_to_array(current_setting('shared_preload_libraries'), ',')) AS library(name)
                   WHERE regexp_replace(btrim(library.name, ' "'), '^.*/', '') LIKE 'timescaledb%') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'TimescaleDB could not be enabled (%): spans are stored in native day partitions', SQLERRM;
        END;
    END IF;
END $$;

-- One row per span. Every column but otlp is a projection for queries; otlp is the span exactly as
-- received (an opentelemetry.proto.trace.v1.Span message), from which export rebuilds it, with the
-- resource and scope rows it points to.
DO $$
DECLARE
    columns CONSTANT text := $columns$
        project_id            uuid        NOT NULL,
        trace_id              uuid        NOT NULL,  -- the 16 id bytes in order (uuid text = the id's hex)
        span_id               bigint      NOT NULL,  -- the 8 id bytes, big-endian
        parent_span_id        bigint,                -- null for a root span (empty or all-zero parent id)
        start_time            timestamptz NOT NULL,  -- start_unix_nano to the microsecond: the partition key
        start_unix_nano       bigint      NOT NULL,
        end_unix_nano         bigint      NOT NULL,
        name                  text        NOT NULL,
        kind                  smallint    NOT NULL,  -- OTLP SpanKind number
        status_code           smallint    NOT NULL,  -- OTLP StatusCode number: 0 unset, 1 ok, 2 error
        status_message        text,
        service_name          text,                  -- the resource's service.name
        span_type             text        NOT NULL CHECK (span_type IN ('LLM', 'TOOL', 'RETRIEVAL', 'AGENT', 'CUSTOM')),
        llm_system            text,
        request_model         text,
        response_model        text,
        input_tokens          bigint,
        output_tokens         bigint,
        cache_read_tokens     bigint,
        cache_creation_tokens bigint,
        reasoning_tokens      bigint,
        cost_micros           bigint,                -- cost in millionths of its currency unit
        input_text            text,                  -- capped at Processor:MaxTextBytes
        output_text           text,
        text_truncated        boolean     NOT NULL,  -- input_text or output_text was cut to the cap
        attributes            jsonb       NOT NULL,  -- span attributes as JSON, without the content ones
        resource_id           uuid        NOT NULL,  -- telemetry.resources (project_id, resource_id)
        scope_id              uuid        NOT NULL,  -- telemetry.scopes (project_id, scope_id)
        otlp                  bytea       NOT NULL,  -- the Span message as received
        received_at           timestamptz NOT NULL   -- when ingest accepted it
    $columns$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE 'CREATE TABLE telemetry.spans (' || columns || ')';
        EXECUTE $sql$SELECT create_hypertable('telemetry.spans', 'start_time',
                     chunk_time_interval => INTERVAL '1 day', create_default_indexes => false)$sql$;
        EXECUTE $sql$ALTER TABLE telemetry.spans SET (timescaledb.compress,
                     timescaledb.compress_segmentby = 'project_id',
                     timescaledb.compress_orderby = 'start_time, trace_id, span_id')$sql$;
        EXECUTE $sql$SELECT add_compression_policy('telemetry.spans', INTERVAL '7 days')$sql$;
    ELSE
        -- Partitions are created by the processor for each day a batch touches (no default partition:
        -- PostgreSQL refuses a new partition whose rows already sit in the default one).
        EXECUTE 'CREATE TABLE telemetry.spans (' || columns || ') PARTITION BY RANGE (start_time)';
    END IF;
END $$;

-- Large values compress with lz4 where the server has it (much cheaper than the default pglz).
DO $$
BEGIN
    ALTER TABLE telemetry.spans ALTER COLUMN input_text SET COMPRESSION lz4,
                                ALTER COLUMN output_text SET COMPRESSION lz4,
                                ALTER COLUMN attributes SET COMPRESSION lz4,
                                ALTER COLUMN otlp SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: large span values use the default compression';
END $$;

-- Idempotency and trace lookup; the partition column is part of the key, as PostgreSQL requires.
CREATE UNIQUE INDEX spans_key ON telemetry.spans (project_id, trace_id, span_id, start_time);
-- Export: a project's spans by time, keyset-paginated on (start_time, trace_id, span_id).
CREATE INDEX spans_export ON telemetry.spans (project_id, start_time, trace_id, span_id);

-- A resource as received, stored once per project: resource_id is the first 16 bytes of the SHA-256
-- of the Resource message bytes and the ResourceSpans schema URL.
CREATE TABLE telemetry.resources (
    project_id    uuid        NOT NULL,
    resource_id   uuid        NOT NULL,
    service_name  text,
    schema_url    text        NOT NULL,  -- ResourceSpans.schema_url
    attributes    jsonb       NOT NULL,
    otlp          bytea       NOT NULL,  -- the opentelemetry.proto.resource.v1.Resource message
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, resource_id)
);

-- An instrumentation scope as received, likewise (hash of the InstrumentationScope bytes and the
-- ScopeSpans schema URL).
CREATE TABLE telemetry.scopes (
    project_id    uuid        NOT NULL,
    scope_id      uuid        NOT NULL,
    name          text        NOT NULL,
    version       text        NOT NULL,
    schema_url    text        NOT NULL,  -- ScopeSpans.schema_url
    attributes    jsonb       NOT NULL,
    otlp          bytea       NOT NULL,  -- the opentelemetry.proto.common.v1.InstrumentationScope message
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, scope_id)
);

-- One row per trace, aggregated from its spans as they arrive, in any order and in any number of
-- batches; each stored span is counted once (re-delivered spans are not counted again).
CREATE TABLE telemetry.traces (
    project_id            uuid        NOT NULL,
    trace_id              uuid        NOT NULL,
    -- The name of the root span (no parent) that starts first; until a root arrives, of the span that
    -- starts first. name_is_root, name_start_unix_nano and name_span_id rank the candidates, so the
    -- result does not depend on arrival order.
    name                  text        NOT NULL,
    name_is_root          boolean     NOT NULL,
    name_start_unix_nano  bigint      NOT NULL,
    name_span_id          bigint      NOT NULL,
    start_time            timestamptz NOT NULL,  -- earliest span start
    start_unix_nano       bigint      NOT NULL,
    end_unix_nano         bigint      NOT NULL,  -- latest span end
    span_count            bigint      NOT NULL,
    error_count           bigint      NOT NULL,  -- spans with status ERROR
    has_error             boolean     GENERATED ALWAYS AS (error_count > 0) STORED,
    services              text[]      NOT NULL,  -- distinct service names, sorted
    input_tokens          bigint      NOT NULL,
    output_tokens         bigint      NOT NULL,
    cache_read_tokens     bigint      NOT NULL,
    cache_creation_tokens bigint      NOT NULL,
    reasoning_tokens      bigint      NOT NULL,
    cost_micros           bigint      NOT NULL,
    first_received_at     timestamptz NOT NULL,
    last_received_at      timestamptz NOT NULL,
    PRIMARY KEY (project_id, trace_id)
);

-- The trace list: a project's traces, newest first.
CREATE INDEX traces_by_start ON telemetry.traces (project_id, start_time DESC, trace_id);

-- Creates the day partitions of telemetry.spans that are missing (partitioned storage only); returns
-- how many it created. Callers from several processors take turns on an advisory lock.
CREATE FUNCTION telemetry.ensure_span_partitions(days date[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    partition_name text;
    compressed record;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('telemetry.spans partitions', 0));
    FOREACH day IN ARRAY days LOOP
        partition_name := 'spans_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(format('telemetry.%I', partition_name)) IS NULL THEN
            EXECUTE format('CREATE TABLE telemetry.%I PARTITION OF telemetry.spans FOR VALUES FROM (%L) TO (%L)',
                           partition_name,
                           day::timestamp AT TIME ZONE 'UTC',
                           (day + 1)::timestamp AT TIME ZONE 'UTC');
            -- A partition does not inherit its parent's column compression.
            FOR compressed IN
                SELECT attname, CASE attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END AS method
                FROM pg_attribute
                WHERE attrelid = 'telemetry.spans'::regclass AND attnum > 0 AND NOT attisdropped AND attcompression <> ''
            LOOP
                EXECUTE format('ALTER TABLE telemetry.%I ALTER COLUMN %I SET COMPRESSION %s',
                               partition_name, compressed.attname, compressed.method);
            END LOOP;
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

-- The days that have a partition (partitioned storage only).
CREATE FUNCTION telemetry.span_partition_days() RETURNS SETOF date
LANGUAGE sql STABLE AS $$
    SELECT to_date(substr(c.relname, 7), 'YYYYMMDD')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'telemetry.spans'::regclass AND c.relname ~ '^spans_[0-9]{8}$'
$$;

-- Drops the day partitions that end on or before the cutoff (retention, partitioned storage only).
CREATE FUNCTION telemetry.drop_span_partitions_before(cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day date;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('telemetry.spans partitions', 0));
    FOR day IN SELECT d FROM telemetry.span_partition_days() AS d WHERE d + 1 <= cutoff ORDER BY d LOOP
        EXECUTE format('DROP TABLE telemetry.%I', 'spans_' || to_char(day, 'YYYYMMDD'));
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
