-- Span search's q over a bounded part of each span's text (README.md, "Dashboard: a trace's spans, span search,
-- sessions", says what q finds; "Performance: processor" measures what each index costs a write).
--
-- 0006 indexed the whole input_text and output_text by trigrams, which made every GenAI write several times
-- as costly as before (every trigram of a prompt of any length is an index entry). In its place: one trigram
-- index over the searchable text, telemetry.span_search_text: of the input and of the output, each whole up to
-- 1,024 characters, else its first 512 and its last 512 characters (the start of a conversation and its
-- latest message; the start and the end of an answer). Span search filters on this same expression, so the
-- planner uses the index, and then on input_text/output_text themselves, so every span it returns holds the
-- text; a match that lies only in the middle of a longer text is not found.
--
-- Immutable and a plain SQL expression: PostgreSQL inlines it alike in the index and in a query, which is how
-- the two match. Changing the bound is a new migration that replaces the function and rebuilds the index.
CREATE FUNCTION telemetry.span_search_text(input text, output text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(CASE WHEN length(input) <= 1024 THEN input ELSE left(input, 512) || E'\n' || right(input, 512) END, '')
           || E'\n' ||
           coalesce(CASE WHEN length(output) <= 1024 THEN output ELSE left(output, 512) || E'\n' || right(output, 512) END, '')
$$;

-- Where pg_trgm is available (as 0006 required). Dropping the old index and creating the new one is one
-- subtransaction: should the new one fail (a TimescaleDB whose compressed chunks refuse it), the old index
-- stays, and span search, which also filters on input_text/output_text, can still use it. Creating it reads
-- every stored span once.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    DROP INDEX IF EXISTS telemetry.spans_text_trgm;
    CREATE INDEX spans_search_text_trgm ON telemetry.spans USING gin (telemetry.span_search_text(input_text, output_text) gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'span text index not changed (%): span search uses what 0006 left', SQLERRM;
END $$;

-- Statistics for the new expression, or the planner takes every match for rare: on 4.4 million seeded
-- spans, q=refund (in about a quarter of them) then read all 1.1 million matches through the index before
-- keeping the newest 50 (78 s) instead of walking the newest spans and stopping at 50 (0.1 s). The daily
-- partitions created later are analyzed by autovacuum as they fill.
ANALYZE telemetry.spans;
