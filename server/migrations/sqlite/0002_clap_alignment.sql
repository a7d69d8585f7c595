-- Version 2: each track's CLAP alignment, when the server had a CLAP model (NULL otherwise):
-- the cosine of CLAP's audio and text embeddings for "{emotion} song" and for the text MusicGen
-- composed from.

ALTER TABLE tracks ADD COLUMN clap_emotion REAL;
ALTER TABLE tracks ADD COLUMN clap_music_text REAL;
