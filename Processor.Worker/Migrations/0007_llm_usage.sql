-- Usage and cost over time (GET /v1/analytics/llm): rollups of model calls (LLM and EMBEDDING spans, each
-- counted once, "Usage once" in README.md) that the processor writes in the same transaction as the spans,
-- from the spans that transaction actually inserted, so a re-delivered span adds nothing. README.md,
-- "Usage and cost over time", documents them.
--
-- Plain tables on both layouts (native partitions or TimescaleDB): a rollup is small next to the spans,
-- and its upsert needs a unique key without the partition column rules of a hypertable.
--
-- Dimensions are '' where the span has none (model: response model, else request model). latency is a
-- mergeable sketch of the calls' durations (Otlp/Analytics/LatencySketch.cs): each non-empty log bin as
-- bin * 2^40 + count, ascending; merged by adding counts bin by bin. Spans stored before this migration
-- are not in the rollups (README.md says how to fill a window from the spans).

-- Per minute, every dimension (the user too): any interval, any filter or grouping.
CREATE TABLE telemetry.llm_usage_minute (
    project_id uuid NOT NULL,
    bucket timestamptz NOT NULL,
    model text NOT NULL,
    provider text NOT NULL,
    service text NOT NULL,
    span_type text NOT NULL,
    user_id text NOT NULL,
    calls bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_creation_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    cost_micros bigint NOT NULL,
    latency bigint[] NOT NULL,
    PRIMARY KEY (project_id, bucket, model, provider, service, span_type, user_id)
);

-- A user's usage over a long window without reading every user's minutes.
CREATE INDEX llm_usage_minute_by_user ON telemetry.llm_usage_minute (project_id, user_id, bucket);

-- Per hour, every dimension but the user: what hourly and daily dashboards read (a few rows an hour per
-- model and service, however many users).
CREATE TABLE telemetry.llm_usage_hour (
    project_id uuid NOT NULL,
    bucket timestamptz NOT NULL,
    model text NOT NULL,
    provider text NOT NULL,
    service text NOT NULL,
    span_type text NOT NULL,
    calls bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_creation_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    cost_micros bigint NOT NULL,
    latency bigint[] NOT NULL,
    PRIMARY KEY (project_id, bucket, model, provider, service, span_type)
);

-- Per hour by model alone (no service, no user): an hourly or daily dashboard by model, provider or type
-- reads a row an hour per model, however many services call it.
CREATE TABLE telemetry.llm_usage_hour_model (
    project_id uuid NOT NULL,
    bucket timestamptz NOT NULL,
    model text NOT NULL,
    provider text NOT NULL,
    span_type text NOT NULL,
    calls bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_creation_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    cost_micros bigint NOT NULL,
    latency bigint[] NOT NULL,
    PRIMARY KEY (project_id, bucket, model, provider, span_type)
);

-- Two sketches merged: counts added bin by bin, bins ascending. A count saturates at 2^40 - 1 (a trillion
-- calls of one bin in one bucket) rather than spill into the bin.
CREATE FUNCTION telemetry.latency_sketch_merge(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg((bin << 40) | least(n, 1099511627775)::bigint ORDER BY bin), '{}')
    FROM (SELECT x >> 40 AS bin, sum(x & 1099511627775) AS n FROM unnest(a || b) AS x GROUP BY 1) bins
$$;

