-- Organizations' model price overrides (README.md, "Cost"): added to or replacing the repository's table
-- (Pricing/model-prices.json) for the organization's spans stored after the change. Plain table; works
-- with and without TimescaleDB.
CREATE TABLE telemetry.model_prices (
    organization_id uuid        NOT NULL,
    model           text        NOT NULL,   -- the name the override is put under (lower case)
    pattern         text,                   -- a regular expression the whole model name must match; null: the name itself, or names starting with it
    input           numeric,                -- USD per million tokens
    output          numeric,
    cache_read      numeric,
    cache_write     numeric,
    reasoning       numeric,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text,
    PRIMARY KEY (organization_id, model),
    CONSTRAINT model_prices_not_negative CHECK (input >= 0 AND output >= 0 AND cache_read >= 0 AND cache_write >= 0 AND reasoning >= 0)
);
