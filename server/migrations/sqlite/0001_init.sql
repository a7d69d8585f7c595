-- Version 1: images, finished tracks and the gallery's pre-rendered tracks.
-- A row is written only after the blobs it names are completely and durably stored.

CREATE TABLE images (
    id          TEXT PRIMARY KEY,      -- SHA-256 of the bytes, 64 lowercase hex digits
    width       INTEGER NOT NULL,      -- after EXIF orientation
    height      INTEGER NOT NULL,
    mime        TEXT NOT NULL,         -- image/jpeg, image/png or image/webp
    blob_key    TEXT NOT NULL,         -- where the original bytes are in the object store
    created_at  INTEGER NOT NULL       -- seconds since 1970-01-01 UTC
);

CREATE TABLE tracks (
    id                   TEXT PRIMARY KEY,   -- 128 random bits, URL-safe base64 (22 chars)
    request_key          TEXT NOT NULL UNIQUE, -- hash of everything that determines the music
    image_id             TEXT NOT NULL REFERENCES images (id),
    gallery_id           TEXT,               -- the gallery item it was asked for, if any
    variant              TEXT NOT NULL,
    seconds              REAL NOT NULL,
    seed                 INTEGER NOT NULL,
    top_k                INTEGER NOT NULL,
    temperature          REAL NOT NULL,
    guidance             REAL NOT NULL,
    given_description    TEXT,               -- the person's own description, if they wrote one
    emotion              TEXT NOT NULL,
    probabilities        TEXT NOT NULL,      -- JSON {happy, angry, sad, fun, neutral}
    labeller             TEXT NOT NULL,      -- resnet-bigru or clip-zero-shot
    caption              TEXT,
    description          TEXT,
    description_fallback INTEGER NOT NULL DEFAULT 0,
    music_text           TEXT NOT NULL,      -- what MusicGen was conditioned on
    model_revisions      TEXT NOT NULL,      -- JSON {role: revision}
    demo                 INTEGER NOT NULL,   -- 1 when the tiny demo models made it
    sample_rate          INTEGER NOT NULL,
    samples              INTEGER NOT NULL,
    wav_key              TEXT NOT NULL,
    ogg_key              TEXT NOT NULL,
    created_at           INTEGER NOT NULL
);

CREATE INDEX tracks_by_image ON tracks (image_id);

CREATE TABLE gallery_tracks (
    gallery_id     TEXT NOT NULL,
    revisions_key  TEXT NOT NULL,          -- hash of the model revisions that made it
    track_id       TEXT NOT NULL REFERENCES tracks (id),
    PRIMARY KEY (gallery_id, revisions_key)
);
