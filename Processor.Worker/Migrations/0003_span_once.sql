-- A span stored once. README.md, "Storage", says why and measures it.
--
-- Spans stored before this migration keep what they have (otlp whole, their prompt and completion also
-- in input_text/output_text) and export as before; the dropped attributes column's bytes go when their
-- day partition does (retention) or the partition is rewritten (VACUUM FULL). Nothing here rewrites rows.

-- The attributes as jsonb were a second copy of what otlp holds (and bigger than it). In their place, what
-- an exact attr.<key>=<value> filter needs: hashtext(key || '=' || value) of each attribute, prompt and
-- completion content left out (Otlp/GenAi/AttributeHash.cs says how a value is written). A GIN index
-- over it serves the filter; a hash is a candidate, confirmed against the span. Null for spans stored
-- before this migration.
ALTER TABLE telemetry.spans DROP COLUMN attributes;
ALTER TABLE telemetry.spans ADD COLUMN attr_hashes integer[];

-- The prompt and completion are kept once, in input_text/output_text: when that text is exactly the string
-- value of the span's content attribute, otlp holds the attribute without its value (a placeholder) at
-- byte input_at (output_at), and the export splices the text back in there (Otlp/GenAi/ContentSplice.cs).
-- span_size is then the size of the span as received; all three are null when otlp is the whole span.
ALTER TABLE telemetry.spans ADD COLUMN span_size integer,
                            ADD COLUMN input_at integer,
                            ADD COLUMN output_at integer;

-- Native partitions: one unique index serves idempotency (the same columns as before, so the same
-- uniqueness) and the export's keyset order, instead of two indexes of the same four columns; finding a
-- trace's spans takes an index on trace_id alone, which deduplicates (a trace's spans share one entry).
-- Rebuilding them reads every stored span once. On TimescaleDB, whose compressed chunks cannot take a new
-- unique index, the indexes stay as 0001 made them.
DO $$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'telemetry.spans'::regclass) = 'p' THEN
        DROP INDEX telemetry.spans_export;
        DROP INDEX telemetry.spans_key;
        CREATE UNIQUE INDEX spans_key ON telemetry.spans (project_id, start_time, trace_id, span_id);
        CREATE INDEX spans_by_trace ON telemetry.spans (trace_id);
    END IF;
END $$;
