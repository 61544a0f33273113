-- A span's input and output may come from its GenAI log events (gen_ai.user.message, gen_ai.choice, ...,
-- gen_ai.client.inference.operation.details) instead of its attributes, whichever arrives first
-- (README.md, "GenAI mapping"). content_from_events marks the spans whose input_text and output_text were
-- filled that way, so a later event of the same span refills them, while content from attributes is never
-- overwritten. A constant default: adding the column rewrites no partition.
ALTER TABLE telemetry.spans ADD COLUMN content_from_events boolean NOT NULL DEFAULT false;
