-- A log record's place among the records of its trace in the request that carried it (0 for the first), so
-- records stamped with the same time keep the order the instrumentation emitted them in. GenAI
-- instrumentations emit a conversation's messages as one event each (gen_ai.system.message,
-- gen_ai.user.message, ...), often within one millisecond: a span's input folded from its events
-- (EventContent) orders them by time, then by this position. Nullable and without a default: adding it rewrites
-- no partition and no chunk, and rows stored before it fall back to the old tie-break (record_id).
ALTER TABLE telemetry.logs ADD COLUMN batch_position integer;
