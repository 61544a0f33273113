-- Time to first token (README.md, "GenAI mapping" and "Usage and cost over time"): promoted to a span column
-- from gen_ai.response.time_to_first_chunk, Langfuse's completion start time and the other attributes of
-- Otlp/GenAi/GenAiPrecedence.cs, and kept in the usage rollups as a second sketch beside the latency one.
--
-- Spans: nanoseconds from the span's start to its first token (chunk); null where the span carries none. A
-- nullable column without a default: PostgreSQL adds it to every day partition without rewriting one, and
-- TimescaleDB adds it to a hypertable, compressed chunks included, in the form every 2.x release accepts.
-- Spans stored before this migration keep null.
ALTER TABLE telemetry.spans ADD COLUMN time_to_first_token_nanos bigint;

-- Rollups: the sketch of the time to first token of the calls that carried one, in the form and encoding of each
-- table's latency sketch (0007, 0011): bigint[] per minute, bytea per hour; the calls that carried one are the
-- sum of its counts. Merged by the same telemetry.latency_sketch_merge, under the same row lock. A constant
-- default: adding the columns rewrites no table, and rows written before this migration read as empty sketches
-- (no calls with a time to first token), which is what they hold: nothing backfills them.
ALTER TABLE telemetry.llm_usage_minute ADD COLUMN time_to_first_token bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE telemetry.llm_usage_hour ADD COLUMN time_to_first_token bytea NOT NULL DEFAULT ''::bytea;
ALTER TABLE telemetry.llm_usage_hour_model ADD COLUMN time_to_first_token bytea NOT NULL DEFAULT ''::bytea;
