//! Finished tracks: the audio as WAV and Ogg Vorbis blobs under `tracks/`, then one row in
//! `tracks` holding everything needed to make it again (settings with the seed, model
//! revisions, every stage's text). The row is written last, so a track that is listed is whole;
//! a crash before it leaves at most unreferenced blobs, never half a track.

use std::collections::BTreeMap;

use bytes::Bytes;
use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities, Variant};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, ImageRef, Settings, TrackId};
use rusqlite::{OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

use super::{Blobs, Db, unix_now};
use crate::audio::{ogg, wav};

/// What the chain made, about to be stored.
#[derive(Clone, Debug)]
pub struct NewTrack {
    pub request_key: RequestKey,
    pub image: ImageId,
    pub settings: Settings,
    pub texts: TrackTexts,
    pub model_revisions: BTreeMap<String, String>,
    pub demo: bool,
    /// How closely the music matches its words, when a CLAP model judged it.
    pub clap: Option<ClapAlignment>,
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub pcm: Vec<i16>,
}

/// Every stage's result, as stored and as replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackTexts {
    pub emotion: Emotion,
    pub probabilities: EmotionProbabilities,
    /// `resnet-bigru` or `clip-zero-shot`.
    pub labeller: String,
    pub caption: Option<String>,
    pub description: Option<String>,
    pub description_fallback: bool,
    /// What MusicGen was conditioned on.
    pub music_text: String,
}

/// A stored track.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackRecord {
    pub id: TrackId,
    pub image: ImageId,
    pub settings: Settings,
    pub texts: TrackTexts,
    pub model_revisions: BTreeMap<String, String>,
    pub demo: bool,
    pub clap: Option<ClapAlignment>,
    pub sample_rate: u32,
    pub samples: u64,
    pub created_at: i64,
}

impl TrackRecord {
    /// Length of the audio in seconds.
    pub fn seconds(&self) -> f32 {
        self.samples as f32 / self.sample_rate.max(1) as f32
    }

    /// The gallery item it was made from, if any.
    pub fn gallery(&self) -> Option<&GalleryId> {
        match &self.settings.image {
            ImageRef::Gallery(id) => Some(id),
            ImageRef::Upload(_) => None,
        }
    }
}

/// The hash of everything that determines a track's music: two requests with the same key get
/// the same stored track.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestKey(String);

impl RequestKey {
    /// The key of a request for `image` with `settings`, run by models at `revisions`.
    pub fn new(image: &ImageId, settings: &Settings, revisions: &BTreeMap<String, String>) -> Self {
        let canonical = serde_json::json!({
            "image": image.as_str(),
            "variant": settings.variant,
            "seconds": settings.seconds,
            "seed": settings.seed,
            "top_k": settings.top_k,
            "temperature": settings.temperature,
            "guidance": settings.guidance,
            "description": settings.description,
            "models": revisions,
        });
        Self(hex::encode(Sha256::digest(canonical.to_string())))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hash of a set of model revisions (which models a gallery track was rendered with).
pub fn revisions_key(revisions: &BTreeMap<String, String>) -> String {
    let json = serde_json::to_string(revisions).expect("a map of strings serialises");
    hex::encode(Sha256::digest(json))[..32].to_owned()
}

/// The stored tracks.
#[derive(Clone)]
pub struct TrackStore {
    db: Db,
    blobs: Blobs,
}

const COLUMNS: &str = "id, image_id, gallery_id, variant, seconds, seed, top_k, temperature, \
     guidance, given_description, emotion, probabilities, labeller, caption, description, \
     description_fallback, music_text, model_revisions, demo, sample_rate, samples, created_at, \
     clap_emotion, clap_music_text";

impl TrackStore {
    /// Tracks over the database and blob store.
    pub fn new(db: Db, blobs: Blobs) -> Self {
        Self { db, blobs }
    }

    /// Where a track's WAV is.
    pub fn wav_key(id: &TrackId) -> String {
        format!("tracks/{id}.wav")
    }

    /// Where a track's Ogg Vorbis file is.
    pub fn ogg_key(id: &TrackId) -> String {
        format!("tracks/{id}.ogg")
    }

    /// Stores a finished track under a new random id: both audio files first, durably, then its
    /// row. An identical request recorded meanwhile wins: its record is returned instead.
    pub async fn record(&self, track: NewTrack) -> anyhow::Result<TrackRecord> {
        let id = TrackId::from_bits(rand::random());
        let (wav_bytes, ogg_bytes) = {
            let (pcm, rate) = (track.pcm.clone(), track.sample_rate);
            let serial = (rand::random::<u32>() >> 1) as i32;
            tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
                let mut wav_bytes = Vec::with_capacity(wav::HEADER_LEN + pcm.len() * 2);
                wav::write_s16(&mut wav_bytes, rate, 1, &pcm)?;
                Ok((wav_bytes, ogg::encode(&pcm, rate, serial)?))
            })
            .await??
        };
        self.blobs
            .put(&Self::wav_key(&id), Bytes::from(wav_bytes))
            .await?;
        self.blobs
            .put(&Self::ogg_key(&id), Bytes::from(ogg_bytes))
            .await?;

        let record = TrackRecord {
            id: id.clone(),
            image: track.image.clone(),
            settings: track.settings.clone(),
            texts: track.texts.clone(),
            model_revisions: track.model_revisions.clone(),
            demo: track.demo,
            clap: track.clap,
            sample_rate: track.sample_rate,
            samples: track.pcm.len() as u64,
            created_at: unix_now(),
        };
        let row = record.clone();
        let key = track.request_key.0.clone();
        let inserted = self.db.call(move |c| insert(c, &row, &key)).await?;
        if inserted {
            Ok(record)
        } else {
            // Lost a race with an identical request; its track stands.
            self.find_by_key(&track.request_key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("a track with this request key vanished"))
        }
    }

    /// The track with this id.
    pub async fn get(&self, id: &TrackId) -> anyhow::Result<Option<TrackRecord>> {
        let id = id.to_string();
        self.db
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM tracks WHERE id = ?1"),
                    [id],
                    read,
                )
                .optional()
            })
            .await
    }

    /// The track an identical earlier request made.
    pub async fn find_by_key(&self, key: &RequestKey) -> anyhow::Result<Option<TrackRecord>> {
        let key = key.0.clone();
        self.db
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM tracks WHERE request_key = ?1"),
                    [key],
                    read,
                )
                .optional()
            })
            .await
    }

    /// Deletes track files that no row names and that were written more than `older_than`
    /// ago: what a crash between storing a track's files and writing its row leaves behind (a
    /// younger file may be a track another server is storing right now). The count deleted.
    pub async fn sweep_orphans(&self, older_than: std::time::Duration) -> anyhow::Result<usize> {
        let known: std::collections::HashSet<String> = self
            .db
            .call(|c| {
                let mut statement = c.prepare("SELECT id FROM tracks")?;
                let ids = statement.query_map([], |row| row.get::<_, String>(0))?;
                ids.collect::<rusqlite::Result<_>>()
            })
            .await?;
        let cutoff = std::time::SystemTime::now() - older_than;
        let mut swept = 0;
        for (key, written) in self.blobs.list("tracks/").await? {
            let id = key
                .strip_prefix("tracks/")
                .and_then(|name| name.split_once('.'))
                .map(|(id, _)| id);
            if id.is_some_and(|id| !known.contains(id)) && written < cutoff {
                self.blobs.delete(&key).await?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// The whole WAV file of a track.
    pub async fn wav(&self, id: &TrackId) -> anyhow::Result<Bytes> {
        Ok(self.blobs.get(&Self::wav_key(id)).await?)
    }

    /// Marks `track` as the pre-rendered track of a gallery item for models at `revisions`.
    pub async fn set_gallery_track(
        &self,
        item: &GalleryId,
        revisions: &BTreeMap<String, String>,
        track: &TrackId,
    ) -> anyhow::Result<()> {
        let (item, key, track) = (
            item.to_string(),
            revisions_key(revisions),
            track.to_string(),
        );
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO gallery_tracks (gallery_id, revisions_key, track_id) \
                     VALUES (?1, ?2, ?3)",
                    params![item, key, track],
                )
            })
            .await?;
        Ok(())
    }

    /// The pre-rendered track of every gallery item that has one for models at `revisions`.
    pub async fn gallery_tracks(
        &self,
        revisions: &BTreeMap<String, String>,
    ) -> anyhow::Result<BTreeMap<String, TrackId>> {
        let key = revisions_key(revisions);
        self.db
            .call(move |c| {
                let mut statement = c.prepare(
                    "SELECT gallery_id, track_id FROM gallery_tracks WHERE revisions_key = ?1",
                )?;
                let rows = statement.query_map([key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                let mut found = BTreeMap::new();
                for row in rows {
                    let (item, track) = row?;
                    if let Ok(track) = TrackId::parse(&track) {
                        found.insert(item, track);
                    }
                }
                Ok(found)
            })
            .await
    }
}

/// Inserts a row; false when a track with the same request key is already there.
fn insert(
    c: &mut rusqlite::Connection,
    t: &TrackRecord,
    request_key: &str,
) -> rusqlite::Result<bool> {
    let changed = c.execute(
        "INSERT OR IGNORE INTO tracks (id, request_key, image_id, gallery_id, variant, seconds, \
         seed, top_k, temperature, guidance, given_description, emotion, probabilities, \
         labeller, caption, description, description_fallback, music_text, model_revisions, \
         demo, sample_rate, samples, wav_key, ogg_key, created_at, clap_emotion, \
         clap_music_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
         ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
        params![
            t.id.as_str(),
            request_key,
            t.image.as_str(),
            t.gallery().map(GalleryId::as_str),
            t.settings.variant.as_str(),
            t.settings.seconds,
            t.settings.seed as i64,
            t.settings.top_k,
            t.settings.temperature,
            t.settings.guidance,
            t.settings.description,
            t.texts.emotion.as_str(),
            json(&t.texts.probabilities),
            t.texts.labeller,
            t.texts.caption,
            t.texts.description,
            t.texts.description_fallback,
            t.texts.music_text,
            json(&t.model_revisions),
            t.demo,
            t.sample_rate,
            t.samples as i64,
            TrackStore::wav_key(&t.id),
            TrackStore::ogg_key(&t.id),
            t.created_at,
            t.clap.map(|c| c.emotion),
            t.clap.map(|c| c.music_text),
        ],
    )?;
    Ok(changed == 1)
}

/// JSON text of the few structured columns.
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("stored values serialise")
}

fn read(row: &Row<'_>) -> rusqlite::Result<TrackRecord> {
    let bad = |column: usize, message: String| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            message.into(),
        )
    };
    let parse_json = |column: usize| -> rusqlite::Result<serde_json::Value> {
        let text: String = row.get(column)?;
        serde_json::from_str(&text).map_err(|e| bad(column, e.to_string()))
    };
    let id: String = row.get(0)?;
    let image: String = row.get(1)?;
    let image = ImageId::parse(&image).map_err(|e| bad(1, e.to_string()))?;
    let gallery: Option<String> = row.get(2)?;
    let image_ref = match gallery {
        Some(slug) => {
            ImageRef::Gallery(GalleryId::parse(&slug).map_err(|e| bad(2, e.to_string()))?)
        }
        None => ImageRef::Upload(image.clone()),
    };
    let variant: String = row.get(3)?;
    let variant = Variant::ALL
        .into_iter()
        .find(|v| v.as_str() == variant)
        .ok_or_else(|| bad(3, format!("unknown variant {variant}")))?;
    let emotion: String = row.get(10)?;
    let emotion = Emotion::ALL
        .into_iter()
        .find(|e| e.as_str() == emotion)
        .ok_or_else(|| bad(10, format!("unknown emotion {emotion}")))?;
    let probabilities =
        serde_json::from_value(parse_json(11)?).map_err(|e| bad(11, e.to_string()))?;
    let model_revisions =
        serde_json::from_value(parse_json(17)?).map_err(|e| bad(17, e.to_string()))?;
    Ok(TrackRecord {
        id: TrackId::parse(&id).map_err(|e| bad(0, e.to_string()))?,
        image,
        settings: Settings {
            image: image_ref,
            variant,
            seconds: row.get(4)?,
            seed: row.get::<_, i64>(5)? as u64,
            top_k: row.get(6)?,
            temperature: row.get(7)?,
            guidance: row.get(8)?,
            description: row.get(9)?,
        },
        texts: TrackTexts {
            emotion,
            probabilities,
            labeller: row.get(12)?,
            caption: row.get(13)?,
            description: row.get(14)?,
            description_fallback: row.get(15)?,
            music_text: row.get(16)?,
        },
        model_revisions,
        demo: row.get(18)?,
        clap: match (
            row.get::<_, Option<f32>>(22)?,
            row.get::<_, Option<f32>>(23)?,
        ) {
            (Some(emotion), Some(music_text)) => Some(ClapAlignment {
                emotion,
                music_text,
            }),
            _ => None,
        },
        sample_rate: row.get(19)?,
        samples: row.get::<_, i64>(20)? as u64,
        created_at: row.get(21)?,
    })
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::GenerateRequest;

    use super::*;
    use crate::store::ImageMeta;

    fn new_track(image: &ImageId, seed: u64) -> NewTrack {
        let mut request = GenerateRequest::new(ImageRef::Upload(image.clone()));
        request.seed = Some(seed);
        request.seconds = Some(1.0);
        let settings = request.resolve(|| unreachable!()).unwrap();
        let revisions = BTreeMap::from([("musicgen".to_owned(), "abc".to_owned())]);
        NewTrack {
            request_key: RequestKey::new(image, &settings, &revisions),
            image: image.clone(),
            settings,
            texts: TrackTexts {
                emotion: Emotion::Sad,
                probabilities: EmotionProbabilities {
                    happy: 0.1,
                    angry: 0.1,
                    sad: 0.6,
                    fun: 0.1,
                    neutral: 0.1,
                },
                labeller: "clip-zero-shot".into(),
                caption: Some("a sad painting of rain".into()),
                description: Some("slow piano".into()),
                description_fallback: false,
                music_text: "slow piano".into(),
            },
            model_revisions: revisions,
            demo: true,
            clap: Some(ClapAlignment {
                emotion: 0.25,
                music_text: -0.125,
            }),
            sample_rate: 8000,
            pcm: (0..8000).map(|i| (i % 200) as i16 * 100).collect(),
        }
    }

    #[tokio::test]
    async fn a_recorded_track_reads_back_with_its_audio() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::open(dir.path(), None).unwrap();
        let image = ImageId::parse(&"cd".repeat(32)).unwrap();
        let meta = ImageMeta {
            width: 1,
            height: 1,
            mime: "image/png".into(),
        };
        store
            .images
            .put(&image, Bytes::from_static(b"png"), &meta)
            .await
            .unwrap();
        let new = new_track(&image, 5);
        let record = store.tracks.record(new.clone()).await.unwrap();
        assert_eq!(record.samples, 8000);
        assert_eq!(record.seconds(), 1.0);
        assert_eq!(
            store.tracks.get(&record.id).await.unwrap(),
            Some(record.clone())
        );
        assert_eq!(
            store.tracks.find_by_key(&new.request_key).await.unwrap(),
            Some(record.clone())
        );
        let wav = store.tracks.wav(&record.id).await.unwrap();
        assert_eq!(wav.len(), wav::HEADER_LEN + 16000);
        assert_eq!(&wav[wav::HEADER_LEN..wav::HEADER_LEN + 4], &[0, 0, 100, 0]);

        // The same request again: the first track stands.
        let again = store.tracks.record(new).await.unwrap();
        assert_eq!(again.id, record.id);
        // Another seed is another track.
        let other = store.tracks.record(new_track(&image, 6)).await.unwrap();
        assert_ne!(other.id, record.id);
    }

    #[test]
    fn request_keys_change_with_every_setting_and_revision() {
        let image = ImageId::parse(&"cd".repeat(32)).unwrap();
        let base = new_track(&image, 1);
        let key = |t: &NewTrack| RequestKey::new(&image, &t.settings, &t.model_revisions);
        assert_eq!(key(&base), base.request_key);
        let mut changed = base.clone();
        changed.settings.guidance = 2.0;
        assert_ne!(key(&changed), base.request_key);
        let mut changed = base.clone();
        changed.model_revisions.insert("blip".into(), "x".into());
        assert_ne!(key(&changed), base.request_key);
        let other_image = ImageId::parse(&"ce".repeat(32)).unwrap();
        assert_ne!(
            RequestKey::new(&other_image, &base.settings, &base.model_revisions),
            base.request_key
        );
    }
}
