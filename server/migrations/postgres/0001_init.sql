-- Version 1 of the shared database: images, finished tracks, the gallery's pre-rendered
-- tracks and jobs. The same tables as SQLite's migrations 1 to 3, in PostgreSQL's types.
-- A row is written only after the blobs it names are completely and durably stored.

CREATE TABLE images (
    id          TEXT PRIMARY KEY,      -- SHA-256 of the bytes, 64 lowercase hex digits
    width       BIGINT NOT NULL,       -- after EXIF orientation
    height      BIGINT NOT NULL,
    mime        TEXT NOT NULL,         -- image/jpeg, image/png or image/webp
    blob_key    TEXT NOT NULL,         -- where the original bytes are in the object store
    created_at  BIGINT NOT NULL        -- seconds since 1970-01-01 UTC
);

CREATE TABLE tracks (
    id                   TEXT PRIMARY KEY,   -- 128 random bits, URL-safe base64 (22 chars)
    request_key          TEXT NOT NULL UNIQUE, -- hash of everything that determines the music
    image_id             TEXT NOT NULL REFERENCES images (id),
    gallery_id           TEXT,               -- the gallery item it was asked for, if any
    variant              TEXT NOT NULL,
    seconds              DOUBLE PRECISION NOT NULL,
    seed                 BIGINT NOT NULL,
    top_k                BIGINT NOT NULL,
    temperature          DOUBLE PRECISION NOT NULL,
    guidance             DOUBLE PRECISION NOT NULL,
    given_description    TEXT,               -- the person's own description, if they wrote one
    emotion              TEXT NOT NULL,
    probabilities        TEXT NOT NULL,      -- JSON {happy, angry, sad, fun, neutral}
    labeller             TEXT NOT NULL,      -- resnet-bigru or clip-zero-shot
    caption              TEXT,
    description          TEXT,
    description_fallback BOOLEAN NOT NULL DEFAULT false,
    music_text           TEXT NOT NULL,      -- what MusicGen was conditioned on
    model_revisions      TEXT NOT NULL,      -- JSON {role: revision}
    demo                 BOOLEAN NOT NULL,   -- true when the tiny demo models made it
    sample_rate          BIGINT NOT NULL,
    samples              BIGINT NOT NULL,
    wav_key              TEXT NOT NULL,
    ogg_key              TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    clap_emotion         DOUBLE PRECISION,   -- CLAP alignment, when a CLAP model judged it
    clap_music_text      DOUBLE PRECISION
);

CREATE INDEX tracks_by_image ON tracks (image_id);

CREATE TABLE gallery_tracks (
    gallery_id     TEXT NOT NULL,
    revisions_key  TEXT NOT NULL,          -- hash of the model revisions that made it
    track_id       TEXT NOT NULL REFERENCES tracks (id),
    PRIMARY KEY (gallery_id, revisions_key)
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,      -- the JobId, decimal
    request_key       TEXT NOT NULL,         -- the track's request key
    kind              TEXT NOT NULL,         -- generate or describe
    variant           TEXT NOT NULL,
    settings          TEXT NOT NULL,         -- JSON of the resolved settings
    image_id          TEXT NOT NULL,
    state             TEXT NOT NULL,         -- queued, running, done, failed or cancelled
    attempt           BIGINT NOT NULL DEFAULT 0,
    worker            TEXT,                  -- the worker running (or that last ran) it
    cancel_requested  BOOLEAN NOT NULL DEFAULT false,
    queue_seq         BIGINT,                -- the submission's broker sequence, once published
    track_id          TEXT REFERENCES tracks (id),
    error             TEXT,
    created_at        BIGINT NOT NULL,       -- seconds since 1970-01-01 UTC
    updated_at        BIGINT NOT NULL
);

CREATE INDEX jobs_queued_by_seq ON jobs (queue_seq) WHERE state = 'queued';
