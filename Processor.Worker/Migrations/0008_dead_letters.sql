-- Dead letters: every record the processor could not store (README.md, "Dead letters"), kept where the
-- API can list, replay and discard it. A plain table (no partitions, no hypertable): it stays small, and
-- the same statement works with and without TimescaleDB.
CREATE TABLE telemetry.dead_letters (
    id               uuid        PRIMARY KEY,
    signal           text        NOT NULL,              -- spans | logs
    record_key       bytea,                             -- the Kafka record's key as produced (<project_id>:<trace_id hex>)
    project_id       uuid,                              -- from the record, when it could be read
    organization_id  uuid,                              -- stamped by ingest, when it could be read
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    record_hash      bytea       NOT NULL,              -- SHA-256 of the key and value: a redelivery has the same, another record at a reused offset does not
    stage            text        NOT NULL,              -- decode | database
    reason           text        NOT NULL,
    failed_at        timestamptz NOT NULL,
    item_count       integer,                           -- spans or log records the record held, when it could be read
    value            bytea,                             -- the record's bytes, as consumed
    status           text        NOT NULL DEFAULT 'open',  -- open | replayed | discarded
    resolved_at      timestamptz,
    resolved_by      text,                              -- the user id of the owner who replayed or discarded it
    replay_attempts  integer     NOT NULL DEFAULT 0,
    last_replay_at   timestamptz,
    last_replay_outcome text,                           -- what the last replay did (stored, or why it failed again)
    CONSTRAINT dead_letters_signal CHECK (signal IN ('spans', 'logs')),
    CONSTRAINT dead_letters_stage CHECK (stage IN ('decode', 'database')),
    CONSTRAINT dead_letters_status CHECK (status IN ('open', 'replayed', 'discarded'))
);

-- A redelivered record (the processor stopped after recording, before its offset committed) is the same dead letter.
CREATE UNIQUE INDEX dead_letters_source ON telemetry.dead_letters (source_topic, source_partition, source_offset, record_hash);

-- The list: an organization's newest first (keyset on failed_at, id).
CREATE INDEX dead_letters_by_organization ON telemetry.dead_letters (organization_id, failed_at DESC, id DESC);
CREATE INDEX dead_letters_by_project ON telemetry.dead_letters (project_id, failed_at DESC, id DESC);
