//! The store's row operations in SQLite, each on a blocking thread.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, JobId, TrackId};
use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, Row, params};

use super::Sqlite;
use crate::store::rows::{
    JOB_COLUMNS, JobColumns, TRACK_COLUMNS, TrackColumns, gallery_map, job_key, placeholders,
};
use crate::store::{Database, ImageMeta, JobRow, JobState, RequestKey, TrackRecord, unix_now};

#[async_trait]
impl Database for Sqlite {
    fn name(&self) -> String {
        format!("SQLite at {}", self.path.display())
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.call(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn insert_image(
        &self,
        id: &ImageId,
        meta: &ImageMeta,
        blob_key: &str,
        created_at: i64,
    ) -> anyhow::Result<bool> {
        let (id, meta, key) = (id.to_string(), meta.clone(), blob_key.to_owned());
        let changed = self
            .call(move |c| {
                c.execute(
                    "INSERT INTO images (id, width, height, mime, blob_key, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                    params![id, meta.width, meta.height, meta.mime, key, created_at],
                )
            })
            .await?;
        Ok(changed == 1)
    }

    async fn image_meta(&self, id: &ImageId) -> anyhow::Result<Option<ImageMeta>> {
        let id = id.to_string();
        self.call(move |c| {
            c.query_row(
                "SELECT width, height, mime FROM images WHERE id = ?1",
                [id],
                |row| {
                    Ok(ImageMeta {
                        width: row.get(0)?,
                        height: row.get(1)?,
                        mime: row.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn insert_track(
        &self,
        track: &TrackRecord,
        request_key: &RequestKey,
        job: Option<JobId>,
    ) -> anyhow::Result<bool> {
        let columns = TrackColumns::from_record(track, request_key);
        self.call(move |c| {
            let tx = c.transaction()?;
            let inserted = tx.execute(
                &format!(
                    "INSERT INTO tracks ({TRACK_COLUMNS}) VALUES ({}) \
                     ON CONFLICT (request_key) DO NOTHING",
                    placeholders('?', TrackColumns::COUNT)
                ),
                track_params(&columns).as_slice(),
            )? == 1;
            if let Some(job) = job {
                let winner: String = if inserted {
                    columns.id.clone()
                } else {
                    tx.query_row(
                        "SELECT id FROM tracks WHERE request_key = ?1",
                        [&columns.request_key],
                        |row| row.get(0),
                    )?
                };
                tx.execute(
                    "UPDATE jobs SET state = 'done', track_id = ?2, error = NULL, \
                     updated_at = ?3 WHERE id = ?1",
                    params![job_key(job), winner, unix_now()],
                )?;
            }
            tx.commit()?;
            Ok(inserted)
        })
        .await
    }

    async fn track(&self, id: &TrackId) -> anyhow::Result<Option<TrackRecord>> {
        self.track_where("id", id.to_string()).await
    }

    async fn track_by_key(&self, key: &RequestKey) -> anyhow::Result<Option<TrackRecord>> {
        self.track_where("request_key", key.as_str().to_owned())
            .await
    }

    async fn track_ids(&self) -> anyhow::Result<Vec<String>> {
        self.call(|c| {
            let mut statement = c.prepare("SELECT id FROM tracks")?;
            let ids = statement.query_map([], |row| row.get::<_, String>(0))?;
            ids.collect()
        })
        .await
    }

    async fn set_gallery_track(
        &self,
        item: &GalleryId,
        revisions_key: &str,
        track: &TrackId,
    ) -> anyhow::Result<()> {
        let (item, key, track) = (
            item.to_string(),
            revisions_key.to_owned(),
            track.to_string(),
        );
        self.call(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO gallery_tracks (gallery_id, revisions_key, track_id) \
                 VALUES (?1, ?2, ?3)",
                params![item, key, track],
            )
        })
        .await?;
        Ok(())
    }

    async fn gallery_tracks(
        &self,
        revisions_key: &str,
    ) -> anyhow::Result<BTreeMap<String, TrackId>> {
        let key = revisions_key.to_owned();
        let rows = self
            .call(move |c| {
                let mut statement = c.prepare(
                    "SELECT gallery_id, track_id FROM gallery_tracks WHERE revisions_key = ?1",
                )?;
                let rows = statement.query_map([key], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<(String, String)>>>()
            })
            .await?;
        Ok(gallery_map(rows))
    }

    async fn insert_job(&self, job: &JobRow) -> anyhow::Result<bool> {
        let columns = JobColumns::from_row(job);
        let changed = self
            .call(move |c| {
                c.execute(
                    &format!(
                        "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
                        placeholders('?', JobColumns::COUNT)
                    ),
                    job_params(&columns).as_slice(),
                )
            })
            .await?;
        Ok(changed == 1)
    }

    async fn job(&self, id: JobId) -> anyhow::Result<Option<JobRow>> {
        let id = job_key(id);
        let found = self
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                    [id],
                    read_job,
                )
                .optional()
            })
            .await?;
        found.map(JobColumns::into_row).transpose()
    }

    async fn set_job_queue_seq(&self, id: JobId, seq: u64) -> anyhow::Result<()> {
        let id = job_key(id);
        self.call(move |c| {
            c.execute(
                "UPDATE jobs SET queue_seq = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, seq as i64, unix_now()],
            )
        })
        .await?;
        Ok(())
    }

    async fn start_job(&self, id: JobId, worker: &str) -> anyhow::Result<Option<JobRow>> {
        let (id, worker) = (job_key(id), worker.to_owned());
        let found = self
            .call(move |c| {
                let started = c
                    .query_row(
                        &format!(
                            "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
                             worker = ?2, updated_at = ?3 \
                             WHERE id = ?1 AND state IN ('queued', 'running') \
                             RETURNING {JOB_COLUMNS}"
                        ),
                        params![id, worker, unix_now()],
                        read_job,
                    )
                    .optional()?;
                match started {
                    Some(row) => Ok(Some(row)),
                    None => c
                        .query_row(
                            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                            [id],
                            read_job,
                        )
                        .optional(),
                }
            })
            .await?;
        found.map(JobColumns::into_row).transpose()
    }

    async fn complete_job(&self, id: JobId, track: &TrackId) -> anyhow::Result<bool> {
        let (id, track) = (job_key(id), track.to_string());
        let changed = self
            .call(move |c| {
                c.execute(
                    "UPDATE jobs SET state = 'done', track_id = ?2, error = NULL, \
                     updated_at = ?3 WHERE id = ?1",
                    params![id, track, unix_now()],
                )
            })
            .await?;
        Ok(changed == 1)
    }

    async fn finish_job(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> anyhow::Result<bool> {
        let (id, error) = (job_key(id), error.map(str::to_owned));
        let changed = self
            .call(move |c| {
                c.execute(
                    "UPDATE jobs SET state = ?2, error = ?3, updated_at = ?4 \
                     WHERE id = ?1 AND state IN ('queued', 'running')",
                    params![id, state.as_str(), error, unix_now()],
                )
            })
            .await?;
        Ok(changed == 1)
    }

    async fn request_job_cancel(&self, id: JobId) -> anyhow::Result<bool> {
        let id = job_key(id);
        let changed = self
            .call(move |c| {
                c.execute(
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ?2 \
                     WHERE id = ?1 AND state IN ('queued', 'running')",
                    params![id, unix_now()],
                )
            })
            .await?;
        Ok(changed == 1)
    }

    async fn job_cancel_requested(&self, id: JobId) -> anyhow::Result<bool> {
        let id = job_key(id);
        let flag = self
            .call(move |c| {
                c.query_row(
                    "SELECT cancel_requested FROM jobs WHERE id = ?1",
                    [id],
                    |row| row.get::<_, bool>(0),
                )
                .optional()
            })
            .await?;
        Ok(flag.unwrap_or(false))
    }

    async fn jobs_queued_ahead(&self, seq: u64) -> anyhow::Result<u64> {
        let count = self
            .call(move |c| {
                c.query_row(
                    "SELECT count(*) FROM jobs WHERE state = 'queued' AND queue_seq < ?1",
                    [seq as i64],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        Ok(count as u64)
    }
}

impl Sqlite {
    /// The track whose `column` (`id` or `request_key`) is `value`.
    async fn track_where(
        &self,
        column: &'static str,
        value: String,
    ) -> anyhow::Result<Option<TrackRecord>> {
        let found = self
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE {column} = ?1"),
                    [value],
                    read_track,
                )
                .optional()
            })
            .await?;
        found.map(TrackColumns::into_record).transpose()
    }
}

fn track_params(t: &TrackColumns) -> [&dyn ToSql; TrackColumns::COUNT] {
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

fn read_track(row: &Row<'_>) -> rusqlite::Result<TrackColumns> {
    Ok(TrackColumns {
        id: row.get(0)?,
        request_key: row.get(1)?,
        image_id: row.get(2)?,
        gallery_id: row.get(3)?,
        variant: row.get(4)?,
        seconds: row.get(5)?,
        seed: row.get(6)?,
        top_k: row.get(7)?,
        temperature: row.get(8)?,
        guidance: row.get(9)?,
        given_description: row.get(10)?,
        emotion: row.get(11)?,
        probabilities: row.get(12)?,
        labeller: row.get(13)?,
        caption: row.get(14)?,
        description: row.get(15)?,
        description_fallback: row.get(16)?,
        music_text: row.get(17)?,
        model_revisions: row.get(18)?,
        demo: row.get(19)?,
        sample_rate: row.get(20)?,
        samples: row.get(21)?,
        wav_key: row.get(22)?,
        ogg_key: row.get(23)?,
        created_at: row.get(24)?,
        clap_emotion: row.get(25)?,
        clap_music_text: row.get(26)?,
    })
}

fn job_params(j: &JobColumns) -> [&dyn ToSql; JobColumns::COUNT] {
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

fn read_job(row: &Row<'_>) -> rusqlite::Result<JobColumns> {
    Ok(JobColumns {
        id: row.get(0)?,
        request_key: row.get(1)?,
        kind: row.get(2)?,
        variant: row.get(3)?,
        settings: row.get(4)?,
        image_id: row.get(5)?,
        state: row.get(6)?,
        attempt: row.get(7)?,
        worker: row.get(8)?,
        cancel_requested: row.get(9)?,
        queue_seq: row.get(10)?,
        track_id: row.get(11)?,
        error: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
    })
}
