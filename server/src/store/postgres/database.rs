//! The store's row operations in PostgreSQL. Recording a track is one transaction: the track
//! `ON CONFLICT (request_key) DO NOTHING`, then its job marked done with the winning track.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, JobId, TrackId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::Postgres;
use crate::store::rows::{
    JOB_COLUMNS, JobColumns, TRACK_COLUMNS, TrackColumns, gallery_map, job_key, placeholders,
};
use crate::store::{Database, ImageMeta, JobRow, JobState, RequestKey, TrackRecord, unix_now};

type Param<'a> = &'a (dyn ToSql + Sync);

#[async_trait]
impl Database for Postgres {
    fn name(&self) -> String {
        format!("PostgreSQL at {}", self.shown)
    }

    async fn check(&self) -> anyhow::Result<()> {
        let mut c = self.connection().await?;
        let result = c.simple_query("SELECT 1").await;
        c.check(result, "checking").map(drop)
    }

    async fn insert_image(
        &self,
        id: &ImageId,
        meta: &ImageMeta,
        blob_key: &str,
        created_at: i64,
    ) -> anyhow::Result<bool> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "INSERT INTO images (id, width, height, mime, blob_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[
                    &id.as_str(),
                    &i64::from(meta.width),
                    &i64::from(meta.height),
                    &meta.mime,
                    &blob_key,
                    &created_at,
                ],
            )
            .await;
        Ok(c.check(result, "storing an image")? == 1)
    }

    async fn image_meta(&self, id: &ImageId) -> anyhow::Result<Option<ImageMeta>> {
        let mut c = self.connection().await?;
        let result = c
            .query_opt(
                "SELECT width, height, mime FROM images WHERE id = $1",
                &[&id.as_str()],
            )
            .await
            .and_then(|row| {
                row.map(|row| {
                    Ok::<_, tokio_postgres::Error>((
                        row.try_get::<_, i64>(0)?,
                        row.try_get::<_, i64>(1)?,
                        row.try_get::<_, String>(2)?,
                    ))
                })
                .transpose()
            });
        let Some((width, height, mime)) = c.check(result, "reading an image")? else {
            return Ok(None);
        };
        Ok(Some(ImageMeta {
            width: u32::try_from(width)?,
            height: u32::try_from(height)?,
            mime,
        }))
    }

    async fn insert_track(
        &self,
        track: &TrackRecord,
        request_key: &RequestKey,
        job: Option<JobId>,
    ) -> anyhow::Result<bool> {
        let columns = TrackColumns::from_record(track, request_key);
        let insert = format!(
            "INSERT INTO tracks ({TRACK_COLUMNS}) VALUES ({}) ON CONFLICT (request_key) DO NOTHING",
            placeholders('$', TrackColumns::COUNT)
        );
        let mut c = self.connection().await?;
        let result = async {
            let tx = c.transaction().await?;
            let inserted = tx.execute(&insert, &track_params(&columns)).await? == 1;
            if let Some(job) = job {
                let winner: String = if inserted {
                    columns.id.clone()
                } else {
                    tx.query_one(
                        "SELECT id FROM tracks WHERE request_key = $1",
                        &[&columns.request_key],
                    )
                    .await?
                    .try_get(0)?
                };
                tx.execute(
                    "UPDATE jobs SET state = 'done', track_id = $2, error = NULL, \
                     updated_at = $3 WHERE id = $1",
                    &[&job_key(job), &winner, &unix_now()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(inserted)
        }
        .await;
        c.check(result, "recording a track")
    }

    async fn track(&self, id: &TrackId) -> anyhow::Result<Option<TrackRecord>> {
        self.track_where("id", id.as_str()).await
    }

    async fn track_by_key(&self, key: &RequestKey) -> anyhow::Result<Option<TrackRecord>> {
        self.track_where("request_key", key.as_str()).await
    }

    async fn track_ids(&self) -> anyhow::Result<Vec<String>> {
        let mut c = self.connection().await?;
        let result = c
            .query("SELECT id FROM tracks", &[])
            .await
            .and_then(|rows| {
                rows.iter()
                    .map(|row| row.try_get::<_, String>(0))
                    .collect::<Result<Vec<_>, _>>()
            });
        c.check(result, "listing tracks")
    }

    async fn set_gallery_track(
        &self,
        item: &GalleryId,
        revisions_key: &str,
        track: &TrackId,
    ) -> anyhow::Result<()> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "INSERT INTO gallery_tracks (gallery_id, revisions_key, track_id) \
                 VALUES ($1, $2, $3) ON CONFLICT (gallery_id, revisions_key) \
                 DO UPDATE SET track_id = EXCLUDED.track_id",
                &[&item.as_str(), &revisions_key, &track.as_str()],
            )
            .await;
        c.check(result, "storing a gallery track").map(drop)
    }

    async fn gallery_tracks(
        &self,
        revisions_key: &str,
    ) -> anyhow::Result<BTreeMap<String, TrackId>> {
        let mut c = self.connection().await?;
        let result = c
            .query(
                "SELECT gallery_id, track_id FROM gallery_tracks WHERE revisions_key = $1",
                &[&revisions_key],
            )
            .await
            .and_then(|rows| {
                rows.iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<Vec<(String, String)>, _>>()
            });
        Ok(gallery_map(c.check(result, "reading gallery tracks")?))
    }

    async fn insert_job(&self, job: &JobRow) -> anyhow::Result<bool> {
        let columns = JobColumns::from_row(job);
        let insert = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
            placeholders('$', JobColumns::COUNT)
        );
        let mut c = self.connection().await?;
        let result = c.execute(&insert, &job_params(&columns)).await;
        Ok(c.check(result, "storing a job")? == 1)
    }

    async fn job(&self, id: JobId) -> anyhow::Result<Option<JobRow>> {
        let mut c = self.connection().await?;
        let result = c
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&job_key(id)],
            )
            .await
            .and_then(|row| row.as_ref().map(read_job).transpose());
        c.check(result, "reading a job")?
            .map(JobColumns::into_row)
            .transpose()
    }

    async fn set_job_queue_seq(&self, id: JobId, seq: u64) -> anyhow::Result<()> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "UPDATE jobs SET queue_seq = $2, updated_at = $3 WHERE id = $1",
                &[&job_key(id), &(seq as i64), &unix_now()],
            )
            .await;
        c.check(result, "updating a job").map(drop)
    }

    async fn start_job(&self, id: JobId, worker: &str) -> anyhow::Result<Option<JobRow>> {
        let id = job_key(id);
        let mut c = self.connection().await?;
        let result = async {
            let started = c
                .query_opt(
                    &format!(
                        "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
                         worker = $2, updated_at = $3 \
                         WHERE id = $1 AND state IN ('queued', 'running') \
                         RETURNING {JOB_COLUMNS}"
                    ),
                    &[&id, &worker, &unix_now()],
                )
                .await?;
            let row = match started {
                Some(row) => Some(row),
                None => {
                    c.query_opt(
                        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                        &[&id],
                    )
                    .await?
                }
            };
            row.as_ref().map(read_job).transpose()
        }
        .await;
        c.check(result, "starting a job")?
            .map(JobColumns::into_row)
            .transpose()
    }

    async fn complete_job(&self, id: JobId, track: &TrackId) -> anyhow::Result<bool> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "UPDATE jobs SET state = 'done', track_id = $2, error = NULL, \
                 updated_at = $3 WHERE id = $1",
                &[&job_key(id), &track.as_str(), &unix_now()],
            )
            .await;
        Ok(c.check(result, "finishing a job")? == 1)
    }

    async fn finish_job(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> anyhow::Result<bool> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "UPDATE jobs SET state = $2, error = $3, updated_at = $4 \
                 WHERE id = $1 AND state IN ('queued', 'running')",
                &[&job_key(id), &state.as_str(), &error, &unix_now()],
            )
            .await;
        Ok(c.check(result, "finishing a job")? == 1)
    }

    async fn request_job_cancel(&self, id: JobId) -> anyhow::Result<bool> {
        let mut c = self.connection().await?;
        let result = c
            .execute(
                "UPDATE jobs SET cancel_requested = true, updated_at = $2 \
                 WHERE id = $1 AND state IN ('queued', 'running')",
                &[&job_key(id), &unix_now()],
            )
            .await;
        Ok(c.check(result, "cancelling a job")? == 1)
    }

    async fn job_cancel_requested(&self, id: JobId) -> anyhow::Result<bool> {
        let mut c = self.connection().await?;
        let result = c
            .query_opt(
                "SELECT cancel_requested FROM jobs WHERE id = $1",
                &[&job_key(id)],
            )
            .await
            .and_then(|row| row.map(|row| row.try_get::<_, bool>(0)).transpose());
        Ok(c.check(result, "reading a job")?.unwrap_or(false))
    }

    async fn jobs_queued_ahead(&self, seq: u64) -> anyhow::Result<u64> {
        let mut c = self.connection().await?;
        let result = c
            .query_one(
                "SELECT count(*) FROM jobs WHERE state = 'queued' AND queue_seq < $1",
                &[&(seq as i64)],
            )
            .await
            .and_then(|row| row.try_get::<_, i64>(0));
        Ok(c.check(result, "counting queued jobs")? as u64)
    }
}

impl Postgres {
    /// The track whose `column` (`id` or `request_key`) is `value`.
    async fn track_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> anyhow::Result<Option<TrackRecord>> {
        let mut c = self.connection().await?;
        let result = c
            .query_opt(
                &format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE {column} = $1"),
                &[&value],
            )
            .await
            .and_then(|row| row.as_ref().map(read_track).transpose());
        c.check(result, "reading a track")?
            .map(TrackColumns::into_record)
            .transpose()
    }
}

fn track_params(t: &TrackColumns) -> [Param<'_>; TrackColumns::COUNT] {
    [
        &t.id,
        &t.request_key,
        &t.image_id,
        &t.gallery_id,
        &t.variant,
        &t.seconds,
        &t.seed,
        &t.top_k,
        &t.temperature,
        &t.guidance,
        &t.given_description,
        &t.emotion,
        &t.probabilities,
        &t.labeller,
        &t.caption,
        &t.description,
        &t.description_fallback,
        &t.music_text,
        &t.model_revisions,
        &t.demo,
        &t.sample_rate,
        &t.samples,
        &t.wav_key,
        &t.ogg_key,
        &t.created_at,
        &t.clap_emotion,
        &t.clap_music_text,
    ]
}

fn read_track(row: &Row) -> Result<TrackColumns, tokio_postgres::Error> {
    Ok(TrackColumns {
        id: row.try_get(0)?,
        request_key: row.try_get(1)?,
        image_id: row.try_get(2)?,
        gallery_id: row.try_get(3)?,
        variant: row.try_get(4)?,
        seconds: row.try_get(5)?,
        seed: row.try_get(6)?,
        top_k: row.try_get(7)?,
        temperature: row.try_get(8)?,
        guidance: row.try_get(9)?,
        given_description: row.try_get(10)?,
        emotion: row.try_get(11)?,
        probabilities: row.try_get(12)?,
        labeller: row.try_get(13)?,
        caption: row.try_get(14)?,
        description: row.try_get(15)?,
        description_fallback: row.try_get(16)?,
        music_text: row.try_get(17)?,
        model_revisions: row.try_get(18)?,
        demo: row.try_get(19)?,
        sample_rate: row.try_get(20)?,
        samples: row.try_get(21)?,
        wav_key: row.try_get(22)?,
        ogg_key: row.try_get(23)?,
        created_at: row.try_get(24)?,
        clap_emotion: row.try_get(25)?,
        clap_music_text: row.try_get(26)?,
    })
}

fn job_params(j: &JobColumns) -> [Param<'_>; JobColumns::COUNT] {
    [
        &j.id,
        &j.request_key,
        &j.kind,
        &j.variant,
        &j.settings,
        &j.image_id,
        &j.state,
        &j.attempt,
        &j.worker,
        &j.cancel_requested,
        &j.queue_seq,
        &j.track_id,
        &j.error,
        &j.created_at,
        &j.updated_at,
    ]
}

fn read_job(row: &Row) -> Result<JobColumns, tokio_postgres::Error> {
    Ok(JobColumns {
        id: row.try_get(0)?,
        request_key: row.try_get(1)?,
        kind: row.try_get(2)?,
        variant: row.try_get(3)?,
        settings: row.try_get(4)?,
        image_id: row.try_get(5)?,
        state: row.try_get(6)?,
        attempt: row.try_get(7)?,
        worker: row.try_get(8)?,
        cancel_requested: row.try_get(9)?,
        queue_seq: row.try_get(10)?,
        track_id: row.try_get(11)?,
        error: row.try_get(12)?,
        created_at: row.try_get(13)?,
        updated_at: row.try_get(14)?,
    })
}
