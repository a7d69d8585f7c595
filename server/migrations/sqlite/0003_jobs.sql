-- Version 3: jobs, as the shared (PostgreSQL) database keeps them, so both backends offer the
-- same API. A job's id is its decimal JobId; its queue position is counted from queue_seq, the
-- broker's sequence of its submission.

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,      -- the JobId, decimal
    request_key       TEXT NOT NULL,         -- the track's request key
    kind              TEXT NOT NULL,         -- generate or describe
    variant           TEXT NOT NULL,
    settings          TEXT NOT NULL,         -- JSON of the resolved settings
    image_id          TEXT NOT NULL,
    state             TEXT NOT NULL,         -- queued, running, done, failed or cancelled
    attempt           INTEGER NOT NULL DEFAULT 0,
    worker            TEXT,                  -- the worker running (or that last ran) it
    cancel_requested  BOOLEAN NOT NULL DEFAULT 0,
    queue_seq         INTEGER,               -- the submission's broker sequence, once published
    track_id          TEXT REFERENCES tracks (id),
    error             TEXT,
    created_at        INTEGER NOT NULL,      -- seconds since 1970-01-01 UTC
    updated_at        INTEGER NOT NULL
);

CREATE INDEX jobs_queued_by_seq ON jobs (queue_seq) WHERE state = 'queued';
