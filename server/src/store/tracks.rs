//! Finished tracks: the audio as WAV and Ogg Vorbis blobs under `tracks/`, then one row in
//! `tracks` holding everything needed to make it again (settings with the seed, model
//! revisions, every stage's text). The row is written last, so a track that is listed is whole;
//! a crash before it leaves at most unreferenced blobs, never half a track.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, ImageRef, JobId, Settings, TrackId};
use sha2::{Digest, Sha256};

use super::{Blobs, Database, unix_now};
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

    /// A key read back from the database.
    pub(super) fn from_stored(text: String) -> Self {
        Self(text)
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
    db: Arc<dyn Database>,
    blobs: Blobs,
}

impl TrackStore {
    /// Tracks over the database and blob store.
    pub fn new(db: Arc<dyn Database>, blobs: Blobs) -> Self {
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
        self.record_for_job(track, None).await
    }

    /// Like [`record`](Self::record), and, in the same transaction as the row (the commit
    /// point), marks `job` done with the track that stands: this one, or an identical request's
    /// recorded meanwhile.
    pub async fn record_for_job(
        &self,
        track: NewTrack,
        job: Option<JobId>,
    ) -> anyhow::Result<TrackRecord> {
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
        let inserted = self
            .db
            .insert_track(&record, &track.request_key, job)
            .await?;
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
        self.db.track(id).await
    }

    /// The track an identical earlier request made.
    pub async fn find_by_key(&self, key: &RequestKey) -> anyhow::Result<Option<TrackRecord>> {
        self.db.track_by_key(key).await
    }

    /// Deletes track files that no row names and that were written more than `older_than`
    /// ago: what a crash between storing a track's files and writing its row leaves behind (a
    /// younger file may be a track another server is storing right now). The count deleted.
    pub async fn sweep_orphans(&self, older_than: std::time::Duration) -> anyhow::Result<usize> {
        let known: std::collections::HashSet<String> =
            self.db.track_ids().await?.into_iter().collect();
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
        self.db
            .set_gallery_track(item, &revisions_key(revisions), track)
            .await
    }

    /// The pre-rendered track of every gallery item that has one for models at `revisions`.
    pub async fn gallery_tracks(
        &self,
        revisions: &BTreeMap<String, String>,
    ) -> anyhow::Result<BTreeMap<String, TrackId>> {
        self.db.gallery_tracks(&revisions_key(revisions)).await
    }
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
