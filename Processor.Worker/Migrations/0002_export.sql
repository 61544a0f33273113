-- What Export.Api needs of the telemetry schema: a commit-ordered watermark on spans for its paging
-- snapshots, and the models of each trace for the dashboard's trace list. README.md, "Exporting traces".

-- The transaction that stored the span. An export's first page records pg_current_snapshot(); later
-- pages keep only spans whose transaction had finished by then (pg_visible_in_snapshot), so spans
-- committed meanwhile neither appear nor shift pages. received_at cannot do this: a batch received
-- earlier can commit later. Rows stored before this migration get 0, which every snapshot sees; the
-- constant default is added without rewriting the table, then new rows take their transaction's id.
ALTER TABLE telemetry.spans ADD COLUMN ingest_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE telemetry.spans ALTER COLUMN ingest_xid SET DEFAULT pg_current_xact_id();

-- Distinct request and response models of a trace's spans, sorted; kept like services. The trace
-- list shows them and filters on them without reading the trace's spans.
ALTER TABLE telemetry.traces ADD COLUMN models text[] NOT NULL DEFAULT '{}';

UPDATE telemetry.traces t
SET models = m.models
FROM (
    SELECT s.project_id, s.trace_id, array_agg(DISTINCT model ORDER BY model) AS models
    FROM telemetry.spans s
    CROSS JOIN LATERAL (VALUES (s.request_model), (s.response_model)) AS v(model)
    WHERE model IS NOT NULL
    GROUP BY s.project_id, s.trace_id
) m
WHERE t.project_id = m.project_id AND t.trace_id = m.trace_id;
