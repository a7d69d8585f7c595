//! The store on PostgreSQL, the cluster's shared database (a fresh database each test, on the
//! test binary's server; S3 through SeaweedFS where a test says so): migrations apply once
//! even when two nodes open together, and a newer schema is refused; images, tracks and jobs
//! behave exactly as on SQLite; identical tracks recorded at once leave one row that both jobs
//! point at; with PostgreSQL stopped every operation fails naming it, and once it is back the
//! next one works.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use ekphrasis_e2e::cluster::{self, PrivateServers};
use ekphrasis_server::store::{
    self, ImageMeta, JobKind, JobRow, JobState, NewTrack, RequestKey, Store, TrackRecord,
    TrackTexts,
};
use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{GenerateRequest, ImageId, ImageRef, JobId, TrackId};

/// A fresh PostgreSQL database with a local folder for files.
async fn postgres_store(files: &std::path::Path) -> (Store, String) {
    let url = cluster::servers().fresh_database();
    let store = store::open_shared(&url, files.to_str().unwrap())
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e:#}"));
    (store, url)
}

/// A client of the database at `url`, to look behind the store.
async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn image(n: u8) -> ImageId {
    ImageId::parse(&format!("{n:02x}").repeat(32)).unwrap()
}

fn meta() -> ImageMeta {
    ImageMeta {
        width: 640,
        height: 480,
        mime: "image/jpeg".into(),
    }
}

fn revisions() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("musicgen".to_owned(), "abc".to_owned()),
        ("blip".to_owned(), "def".to_owned()),
    ])
}

/// A finished piece for `image` with `seed`, of a gallery item when `gallery` is given.
fn new_track(image: &ImageId, seed: u64, gallery: Option<&str>) -> NewTrack {
    let reference = match gallery {
        Some(slug) => ImageRef::Gallery(GalleryId::parse(slug).unwrap()),
        None => ImageRef::Upload(image.clone()),
    };
    let mut request = GenerateRequest::new(reference);
    request.seed = Some(seed);
    request.seconds = Some(1.5);
    request.temperature = Some(0.7);
    request.description = seed
        .is_multiple_of(2)
        .then(|| "rain on a tin roof".to_owned());
    let settings = request.resolve(|| unreachable!()).unwrap();
    NewTrack {
        request_key: RequestKey::new(image, &settings, &revisions()),
        image: image.clone(),
        settings,
        texts: TrackTexts {
            emotion: Emotion::Sad,
            probabilities: EmotionProbabilities {
                happy: 0.125,
                angry: 0.0625,
                sad: 0.5,
                fun: 0.1875,
                neutral: 0.125,
            },
            labeller: "resnet-bigru".into(),
            caption: Some("a painting of a harbour at dusk".into()),
            description: (!seed.is_multiple_of(3)).then(|| "slow strings, «calm»".to_owned()),
            description_fallback: seed.is_multiple_of(3),
            music_text: "slow strings".into(),
        },
        model_revisions: revisions(),
        demo: seed % 2 == 1,
        clap: seed.is_multiple_of(2).then_some(ClapAlignment {
            emotion: 0.3,
            music_text: -0.1,
        }),
        sample_rate: 8000,
        pcm: (0..4000)
            .map(|i| ((i * 37 + seed as i32) % 2000) as i16)
            .collect(),
    }
}

/// A job asking for `new_track(image, seed, None)`.
fn job(id: u64, image: &ImageId, seed: u64) -> JobRow {
    let track = new_track(image, seed, None);
    JobRow::queued(
        JobId(id),
        track.request_key,
        JobKind::Generate,
        track.settings,
        image.clone(),
    )
}

/// A record with its id and time made the same, to compare two stores' records.
fn comparable(mut record: TrackRecord) -> TrackRecord {
    record.id = TrackId::from_bits(0);
    record.created_at = 0;
    record
}

/// Everything the image and track API answers in one scenario, made comparable.
async fn image_and_track_answers(store: &Store) -> Vec<String> {
    let mut answers = Vec::new();
    let (a, b) = (image(0xa1), image(0xb2));
    answers.push(format!("{:?}", store.images.meta(&a).await.unwrap()));
    store
        .images
        .put(&a, Bytes::from_static(b"jpeg bytes"), &meta())
        .await
        .unwrap();
    store
        .images
        .put(&a, Bytes::from_static(b"jpeg bytes"), &meta())
        .await
        .unwrap();
    store
        .images
        .put(&b, Bytes::from_static(b"other"), &meta())
        .await
        .unwrap();
    answers.push(format!("{:?}", store.images.get(&a).await.unwrap()));

    let mut recorded = Vec::new();
    for (seed, gallery) in [(1, None), (2, None), (3, Some("harbour")), (4, None)] {
        let new = new_track(&a, seed, gallery);
        let record = store.tracks.record(new.clone()).await.unwrap();
        assert_eq!(
            store.tracks.get(&record.id).await.unwrap().as_ref(),
            Some(&record)
        );
        assert_eq!(
            store
                .tracks
                .find_by_key(&new.request_key)
                .await
                .unwrap()
                .as_ref(),
            Some(&record)
        );
        let again = store.tracks.record(new).await.unwrap();
        assert_eq!(again, record, "an identical request's track stands");
        answers.push(format!("{:?}", comparable(record.clone())));
        answers.push(format!(
            "{}",
            store.tracks.wav(&record.id).await.unwrap().len()
        ));
        recorded.push(record);
    }
    answers.push(format!(
        "{:?}",
        store
            .tracks
            .find_by_key(&new_track(&b, 1, None).request_key)
            .await
            .unwrap()
    ));

    let item = GalleryId::parse("harbour").unwrap();
    store
        .tracks
        .set_gallery_track(&item, &revisions(), &recorded[0].id)
        .await
        .unwrap();
    store
        .tracks
        .set_gallery_track(&item, &revisions(), &recorded[2].id)
        .await
        .unwrap();
    let gallery = store.tracks.gallery_tracks(&revisions()).await.unwrap();
    assert_eq!(
        gallery.get("harbour"),
        Some(&recorded[2].id),
        "the later one replaces"
    );
    answers.push(format!("{:?}", gallery.keys().collect::<Vec<_>>()));
    let other = BTreeMap::from([("musicgen".to_owned(), "zzz".to_owned())]);
    answers.push(format!(
        "{:?}",
        store.tracks.gallery_tracks(&other).await.unwrap()
    ));

    // No orphans: every track file has its row.
    answers.push(format!(
        "{}",
        store.tracks.sweep_orphans(Duration::ZERO).await.unwrap()
    ));
    answers
}

/// Everything the job API answers in one scenario, timestamps left out.
async fn job_answers(store: &Store) -> Vec<String> {
    let img = image(0xc3);
    store
        .images
        .put(&img, Bytes::from_static(b"png"), &meta())
        .await
        .unwrap();
    let jobs = &store.jobs;
    let mut answers = Vec::new();
    let mut say = |answer: String| answers.push(answer);
    let shown = |row: Option<JobRow>| {
        format!(
            "{:?}",
            row.map(|r| (
                r.id,
                r.state,
                r.attempt,
                r.worker,
                r.cancel_requested,
                r.queue_seq,
                r.track.is_some(),
                r.error,
                r.settings,
                r.kind,
                r.request_key,
            ))
        )
    };
    // Ids beyond i64, as JobIds may be.
    let ids = [u64::MAX, 1 << 63, 3, 4, 5];
    for (n, id) in ids.into_iter().enumerate() {
        say(format!(
            "{}",
            jobs.insert(&job(id, &img, n as u64)).await.unwrap()
        ));
    }
    say(format!("{}", jobs.insert(&job(3, &img, 0)).await.unwrap()));
    say(shown(jobs.get(JobId(u64::MAX)).await.unwrap()));
    say(shown(jobs.get(JobId(77)).await.unwrap()));
    for (n, id) in ids.into_iter().enumerate() {
        jobs.set_queue_seq(JobId(id), 100 + n as u64).await.unwrap();
    }
    say(format!("{}", jobs.queued_ahead(100).await.unwrap()));
    say(format!("{}", jobs.queued_ahead(104).await.unwrap()));
    say(format!("{}", jobs.queued_ahead(1000).await.unwrap()));

    say(shown(
        jobs.start(JobId(u64::MAX), "worker-a").await.unwrap(),
    ));
    say(shown(
        jobs.start(JobId(u64::MAX), "worker-b").await.unwrap(),
    ));
    say(shown(jobs.start(JobId(77), "worker-a").await.unwrap()));
    say(format!("{}", jobs.queued_ahead(104).await.unwrap()));

    say(format!(
        "{}",
        jobs.cancel_requested(JobId(1 << 63)).await.unwrap()
    ));
    say(format!(
        "{}",
        jobs.request_cancel(JobId(1 << 63)).await.unwrap()
    ));
    say(format!(
        "{}",
        jobs.cancel_requested(JobId(1 << 63)).await.unwrap()
    ));
    say(format!(
        "{}",
        jobs.finish(JobId(1 << 63), JobState::Cancelled, Some("asked to"))
            .await
            .unwrap()
    ));
    say(format!(
        "{}",
        jobs.finish(JobId(1 << 63), JobState::Failed, None)
            .await
            .unwrap()
    ));
    say(format!(
        "{}",
        jobs.request_cancel(JobId(1 << 63)).await.unwrap()
    ));
    say(shown(jobs.start(JobId(1 << 63), "worker-c").await.unwrap()));
    say(format!(
        "{}",
        jobs.finish(JobId(3), JobState::Failed, Some("out of memory"))
            .await
            .unwrap()
    ));
    say(format!(
        "{}",
        jobs.finish(JobId(3), JobState::Running, None)
            .await
            .is_err()
    ));
    say(format!("{}", jobs.queued_ahead(104).await.unwrap()));

    // A describe job is done without a track.
    let mut describe = job(6, &img, 5);
    describe.kind = JobKind::Describe;
    say(format!("{}", jobs.insert(&describe).await.unwrap()));
    say(shown(jobs.start(JobId(6), "worker-d").await.unwrap()));
    say(format!(
        "{}",
        jobs.finish(JobId(6), JobState::Done, None).await.unwrap()
    ));
    say(shown(jobs.get(JobId(6)).await.unwrap()));

    // Done with its track, in the track's transaction; then a replay of the same.
    let track = store
        .tracks
        .record_for_job(new_track(&img, 0, None), Some(JobId(u64::MAX)))
        .await
        .unwrap();
    let row = jobs.get(JobId(u64::MAX)).await.unwrap().unwrap();
    assert_eq!(row.track.as_ref(), Some(&track.id));
    say(shown(Some(row)));
    say(format!("{}", jobs.done(JobId(4), &track.id).await.unwrap()));
    say(format!(
        "{}",
        jobs.done(JobId(78), &track.id).await.unwrap()
    ));
    say(shown(jobs.get(JobId(4)).await.unwrap()));
    say(format!("{}", jobs.queued_ahead(1000).await.unwrap()));
    answers
}

#[tokio::test]
async fn migrations_apply_once_when_two_nodes_open_together() {
    let url = cluster::servers().fresh_database();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = tokio::join!(
        store::open_shared(&url, one.path().to_str().unwrap()),
        store::open_shared(&url, two.path().to_str().unwrap()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // And once more, on a migrated database.
    let c = store::open_shared(&url, one.path().to_str().unwrap())
        .await
        .unwrap();
    let db = client(&url).await;
    let versions: Vec<i64> = db
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1]);
    // Each node sees what another wrote.
    a.images
        .put(&image(1), Bytes::from_static(b"x"), &meta())
        .await
        .unwrap();
    assert_eq!(b.images.meta(&image(1)).await.unwrap(), Some(meta()));
    assert_eq!(c.database_health().await, Ok(()));
    assert_eq!(c.store_health().await, Ok(()));

    // A database a newer build migrated is refused.
    db.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
        &[],
    )
    .await
    .unwrap();
    let err = store::open_shared(&url, one.path().to_str().unwrap())
        .await
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("newer") && text.contains("PostgreSQL"),
        "{text}"
    );
}

#[tokio::test]
async fn images_and_tracks_on_postgres_and_s3_answer_as_on_sqlite() {
    let servers = cluster::servers();
    let url = servers.fresh_database();
    let (spec, env) = servers.fresh_store();
    let shared = store::open_shared_with(&url, &spec, env).await.unwrap();
    assert_eq!(shared.database_health().await, Ok(()));
    assert_eq!(shared.store_health().await, Ok(()));
    let data = tempfile::tempdir().unwrap();
    let single = store::open(data.path(), None).unwrap();

    let on_postgres = image_and_track_answers(&shared).await;
    let on_sqlite = image_and_track_answers(&single).await;
    assert_eq!(on_postgres, on_sqlite);
}

#[tokio::test]
async fn jobs_on_postgres_answer_as_on_sqlite() {
    let files = tempfile::tempdir().unwrap();
    let (shared, _) = postgres_store(files.path()).await;
    let data = tempfile::tempdir().unwrap();
    let single = store::open(data.path(), None).unwrap();
    let on_postgres = job_answers(&shared).await;
    let on_sqlite = job_answers(&single).await;
    assert_eq!(on_postgres, on_sqlite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_tracks_recorded_at_once_leave_one_row_both_jobs_point_at() {
    let files = tempfile::tempdir().unwrap();
    let (store, url) = postgres_store(files.path()).await;
    let img = image(0xd4);
    store
        .images
        .put(&img, Bytes::from_static(b"png"), &meta())
        .await
        .unwrap();
    for seed in 0..6 {
        let jobs: Vec<JobRow> = (0..3).map(|n| job(seed * 10 + n, &img, seed)).collect();
        for row in &jobs {
            assert!(store.jobs.insert(row).await.unwrap());
            store.jobs.start(row.id, "worker").await.unwrap();
        }
        let recorded = futures_util::future::join_all(jobs.iter().map(|row| {
            let (store, track) = (store.clone(), new_track(&img, seed, None));
            let id = row.id;
            tokio::spawn(async move { store.tracks.record_for_job(track, Some(id)).await })
        }))
        .await;
        let recorded: Vec<TrackRecord> =
            recorded.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert!(
            recorded.iter().all(|r| *r == recorded[0]),
            "every recorder gets the one track that stands"
        );
        for row in &jobs {
            let row = store.jobs.get(row.id).await.unwrap().unwrap();
            assert_eq!(row.state, JobState::Done);
            assert_eq!(row.track.as_ref(), Some(&recorded[0].id));
        }
    }
    let db = client(&url).await;
    let counts: Vec<i64> = db
        .query(
            "SELECT count(*) FROM tracks GROUP BY request_key ORDER BY request_key",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(counts, [1; 6]);
}

#[tokio::test]
async fn with_postgres_down_operations_fail_naming_it_and_resume_when_it_returns() {
    let servers = PrivateServers::start();
    let url = servers.fresh_database();
    let files = tempfile::tempdir().unwrap();
    let store = store::open_shared(&url, files.path().to_str().unwrap())
        .await
        .unwrap();
    let img = image(0xe5);
    store
        .images
        .put(&img, Bytes::from_static(b"png"), &meta())
        .await
        .unwrap();
    let row = job(1, &img, 1);
    // Every pooled connection in use once, so each has one to lose.
    let reads = futures_util::future::join_all((0..8).map(|_| store.images.meta(&img))).await;
    assert!(reads.iter().all(|r| r.as_ref().unwrap().is_some()));

    servers.stop_postgres();
    let expected = url.rsplit_once('/').unwrap().0.to_owned();
    for _ in 0..6 {
        let err = store.images.meta(&img).await.err().unwrap();
        let text = format!("{err}");
        assert!(
            text.contains("PostgreSQL") && text.contains(&expected),
            "{text}"
        );
    }
    let err = store.jobs.insert(&row).await.err().unwrap();
    assert!(format!("{err}").contains("PostgreSQL"), "{err:#}");
    let health = store.database_health().await.err().unwrap();
    assert!(health.contains("PostgreSQL"), "{health}");
    assert_eq!(store.store_health().await, Ok(()));

    servers.start_postgres();
    assert_eq!(store.images.meta(&img).await.unwrap(), Some(meta()));
    assert!(store.jobs.insert(&row).await.unwrap());
    let reads = futures_util::future::join_all((0..8).map(|_| store.images.meta(&img))).await;
    assert!(reads.iter().all(|r| r.as_ref().unwrap().is_some()));
    assert_eq!(store.database_health().await, Ok(()));
}
