-- A project's content policy (README, "Content policy"): what ingest keeps of prompt and completion
-- content. 'store' keeps it as sent; 'drop' removes it; 'redact' replaces e-mail addresses, API-key-like
-- strings and the owner's patterns. The gateway carries it to ingest in the identity assertion.
ALTER TABLE auth.projects
    ADD COLUMN content_mode text NOT NULL DEFAULT 'store' CHECK (content_mode IN ('store', 'drop', 'redact')),
    ADD COLUMN content_patterns text[] NOT NULL DEFAULT '{}',
    ADD COLUMN content_policy_updated_at timestamptz,
    ADD COLUMN content_policy_updated_by text;
