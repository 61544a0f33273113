-- Sessions as the dashboard lists them, and the indexes span search needs. README.md, "Sessions, spans
-- and span search", documents the routes that read them.

-- One row per (project, session): the sums over the traces whose session it is (telemetry.traces.session_id),
-- kept by the processor in the transaction that writes those traces (Processor.Worker/Storage/SessionRollup.cs).
-- Counts, tokens and cost change by deltas, so processors writing at once never lose one; when a trace leaves a
-- session (a late root names another), its totals move with it and the session's times and users are taken
-- again from the traces it keeps. A session whose traces all left keeps its row with trace_count 0 (no list
-- shows it). first_unix_nano is its earliest trace start, last_unix_nano its latest trace end: its last activity.
CREATE TABLE telemetry.sessions (
    project_id            uuid   NOT NULL,
    session_id            text   NOT NULL,
    first_unix_nano       bigint NOT NULL,
    last_unix_nano        bigint NOT NULL,
    trace_count           bigint NOT NULL,
    span_count            bigint NOT NULL,
    error_count           bigint NOT NULL,  -- spans with status ERROR
    has_error             boolean GENERATED ALWAYS AS (error_count > 0) STORED,
    users                 text[] NOT NULL,  -- distinct user ids of its traces, sorted
    input_tokens          bigint NOT NULL,
    output_tokens         bigint NOT NULL,
    cache_read_tokens     bigint NOT NULL,
    cache_creation_tokens bigint NOT NULL,
    reasoning_tokens      bigint NOT NULL,
    cost_micros           bigint NOT NULL,
    PRIMARY KEY (project_id, session_id)
);

-- The sessions list: a project's sessions, latest activity first (the index read backwards).
CREATE INDEX sessions_by_last ON telemetry.sessions (project_id, last_unix_nano, session_id) WHERE trace_count > 0;

-- The sessions of the traces stored before this migration.
INSERT INTO telemetry.sessions (project_id, session_id, first_unix_nano, last_unix_nano, trace_count, span_count, error_count, users,
                                input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros)
SELECT project_id, session_id, min(start_unix_nano), max(greatest(end_unix_nano, start_unix_nano)), count(*), sum(span_count), sum(error_count),
       coalesce(array_agg(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), '{}'),
       least(sum(input_tokens), 9223372036854775807), least(sum(output_tokens), 9223372036854775807),
       least(sum(cache_read_tokens), 9223372036854775807), least(sum(cache_creation_tokens), 9223372036854775807),
       least(sum(reasoning_tokens), 9223372036854775807), least(sum(cost_micros), 9223372036854775807)
FROM telemetry.traces
WHERE session_id IS NOT NULL
GROUP BY project_id, session_id;

-- Span search. attr.<key>=<value>: the candidates whose attr_hashes hold hashtext(key || '=' || value)
-- (0003), each confirmed against the span. q: input and output text by trigrams where pg_trgm can be
-- enabled (as the logs body search), a filter within the time window otherwise. On TimescaleDB a chunk
-- that is compressed already keeps no such index; the NOTICE says so.
DO $$
BEGIN
    CREATE INDEX spans_attr_hashes ON telemetry.spans USING gin (attr_hashes);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'spans_attr_hashes could not be created (%): attribute filters scan the time window', SQLERRM;
END $$;

DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX spans_text_trgm ON telemetry.spans USING gin (input_text gin_trgm_ops, output_text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): span text search scans the time window', SQLERRM;
END $$;
