-- GenAI mapping as wide as the widest: more span types, sessions and users, where a cost came from, and
-- usage counted once. README.md, "GenAI mapping", "Cost" and "Storage", documents them.
--
-- Rows stored before this migration keep what they have: their session_id, user_id and cost_source are
-- null, and their traces' totals were summed over every span (README.md says how to recompute a window).

-- The span types the conventions need besides LLM, TOOL, RETRIEVAL, AGENT and CUSTOM (Otlp/GenAi/SpanTypeRules.cs).
ALTER TABLE telemetry.spans DROP CONSTRAINT IF EXISTS spans_span_type_check;
ALTER TABLE telemetry.spans ADD CONSTRAINT spans_span_type_check CHECK (span_type IN
    ('LLM', 'TOOL', 'RETRIEVAL', 'AGENT', 'CUSTOM', 'EMBEDDING', 'CHAIN', 'RERANKER', 'GUARDRAIL', 'EVALUATOR'));

-- session_id and user_id from session.id, gen_ai.conversation.id, user.id, enduser.id and each library's own
-- names (Otlp/GenAi/GenAiPrecedence.cs). cost_micros is the reported cost, or else the one computed from the
-- tokens and the model price in force at the span's start; cost_source says which (none: neither).
-- input_form (output_form): the attribute whose value input_text (output_text) holds verbatim, when that value is
-- not the normalized form (semconv 1.37 messages): gen_ai.prompt, input.value, ai.prompt.messages, ... Such a
-- value is cut out of otlp (input_at is set) and so stored once; GenAiContent.Normalize(field, input_form,
-- input_text) gives the normalized form on read, byte for byte what the processor would have stored. Null when
-- input_text is the normalized form (README.md, "Storage").
ALTER TABLE telemetry.spans ADD COLUMN session_id text,
                            ADD COLUMN user_id text,
                            ADD COLUMN cost_source text CHECK (cost_source IN ('none', 'reported', 'computed')),
                            ADD COLUMN input_form text,
                            ADD COLUMN output_form text;

-- A trace's session and user are chosen like its name, among its spans that have one: the root's, else the
-- earliest span's, then the lowest span id (the *_is_root, *_start_unix_nano, *_span_id columns rank the
-- candidate, so arrival order does not matter). A session's totals are the sums over its traces, so when a
-- late span moves a trace to another session, the trace's totals move with it.
-- Usage and cost totals count model calls (LLM and EMBEDDING spans) only, each once; cost_source is
-- computed when any model call's cost was computed, else reported when any was reported, else none.
ALTER TABLE telemetry.traces ADD COLUMN session_id text,
                             ADD COLUMN session_is_root boolean NOT NULL DEFAULT false,
                             ADD COLUMN session_start_unix_nano bigint NOT NULL DEFAULT 9223372036854775807,
                             ADD COLUMN session_span_id bigint NOT NULL DEFAULT 9223372036854775807,
                             ADD COLUMN user_id text,
                             ADD COLUMN user_is_root boolean NOT NULL DEFAULT false,
                             ADD COLUMN user_start_unix_nano bigint NOT NULL DEFAULT 9223372036854775807,
                             ADD COLUMN user_span_id bigint NOT NULL DEFAULT 9223372036854775807,
                             ADD COLUMN cost_source text NOT NULL DEFAULT 'none' CHECK (cost_source IN ('none', 'reported', 'computed'));

-- Sessions: a project's sessions and each session's traces by time.
CREATE INDEX traces_by_session ON telemetry.traces (project_id, session_id, start_time DESC) WHERE session_id IS NOT NULL;
-- Users likewise.
CREATE INDEX traces_by_user ON telemetry.traces (project_id, user_id, start_time DESC) WHERE user_id IS NOT NULL;
