//! The cluster's real servers answer as the scale-out code needs: NATS with JetStream (streams
//! and the account information), PostgreSQL with a fresh database per test, S3 with signed requests
//! under a fresh prefix, and a private NATS that keeps its streams across a restart.

use std::time::Duration;

use async_nats::jetstream;
use ekphrasis_e2e::cluster::{PrivateServers, servers};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStoreExt, PutPayload};

#[tokio::test]
async fn nats_runs_jetstream() {
    let cluster = servers();
    assert!(cluster.nats_url.starts_with("nats://127.0.0.1:"));
    let client = async_nats::connect(&cluster.nats_url).await.unwrap();
    let js = jetstream::new(client);

    let mut stream = js
        .create_stream(jetstream::stream::Config {
            name: "SMOKE".to_owned(),
            subjects: vec!["smoke.>".to_owned()],
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("smoke.one", "hello".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    let message = stream.get_raw_message(1).await.unwrap();
    assert_eq!(&message.payload[..], b"hello");

    // Debian's nats-server 2.9 fails here: async-nats cannot read its account information.
    let account = js.query_account().await.unwrap();
    assert!(account.streams >= 1, "{account:?}");
}

#[tokio::test]
async fn postgres_gives_each_test_a_fresh_database() {
    let cluster = servers();
    let first = cluster.fresh_database();
    let second = cluster.fresh_database();
    assert_ne!(first, second);
    assert!(
        first.starts_with("postgres://postgres@127.0.0.1:"),
        "{first}"
    );

    let one = connect(&first).await;
    one.batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (42);")
        .await
        .unwrap();
    let n: i32 = one.query_one("SELECT n FROM t", &[]).await.unwrap().get(0);
    assert_eq!(n, 42);

    let two = connect(&second).await;
    let tables: i64 = two
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a fresh database is empty");
}

#[tokio::test]
async fn s3_keeps_objects_under_a_fresh_prefix() {
    let cluster = servers();
    let (spec, env) = cluster.fresh_store();
    let (other_spec, _) = cluster.fresh_store();
    assert_ne!(spec, other_spec);
    assert!(spec.starts_with("s3://ekphrasis-test/"), "{spec}");

    let store = open_store(&spec, &env);
    let key = Path::from("tracks/one.wav");
    store
        .put(&key, PutPayload::from_static(b"RIFF...."))
        .await
        .unwrap();
    let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[..], b"RIFF....");

    // The other prefix does not see it.
    let other = open_store(&other_spec, &env);
    assert!(matches!(
        other.get(&key).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn private_nats_keeps_its_streams_across_a_restart() {
    let private = PrivateServers::start();
    assert_ne!(private.nats_url, servers().nats_url);
    let client = async_nats::connect(&private.nats_url).await.unwrap();
    let js = jetstream::new(client.clone());
    js.create_stream(jetstream::stream::Config {
        name: "JOBS".to_owned(),
        subjects: vec!["jobs.>".to_owned()],
        ..Default::default()
    })
    .await
    .unwrap();
    for n in 0..3 {
        js.publish("jobs.new", format!("job {n}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    drop(js);
    drop(client);

    private.stop_nats();
    assert!(
        tokio::time::timeout(
            Duration::from_secs(2),
            async_nats::connect(&private.nats_url)
        )
        .await
        .is_ok_and(|client| client.is_err()),
        "NATS is down"
    );
    private.start_nats();

    let js = jetstream::new(async_nats::connect(&private.nats_url).await.unwrap());
    let mut stream = js.get_stream("JOBS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    let last = stream.get_raw_message(3).await.unwrap();
    assert_eq!(&last.payload[..], b"job 2");
}

#[tokio::test]
async fn private_postgres_and_s3_come_back_with_their_data() {
    let private = PrivateServers::start();
    let url = private.fresh_database();
    connect(&url)
        .await
        .batch_execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7);")
        .await
        .unwrap();
    let (spec, env) = private.fresh_store();
    let store = open_store(&spec, &env);
    let key = Path::from("kept.txt");
    store
        .put(&key, PutPayload::from_static(b"kept"))
        .await
        .unwrap();

    private.stop_postgres();
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err()
    );
    private.start_postgres();
    let n: i32 = connect(&url)
        .await
        .query_one("SELECT n FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 7);

    private.stop_s3();
    // A fresh client each time: no retries to wait through.
    assert!(open_store(&spec, &env).get(&key).await.is_err());
    private.start_s3();
    let bytes = open_store(&spec, &env)
        .get(&key)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"kept");
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("connecting to {url}: {err}"));
    tokio::spawn(connection);
    client
}

/// The store a `--store` spec and its environment name, read as the server reads them: the
/// `AWS_*` variables lower-cased as object_store's configuration keys.
fn open_store(spec: &str, env: &[(String, String)]) -> PrefixStore<object_store::aws::AmazonS3> {
    let (bucket_url, prefix) = spec
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .expect("s3://BUCKET/PREFIX");
    let mut builder = AmazonS3Builder::new().with_url(format!("s3://{bucket_url}"));
    for (name, value) in env {
        let key: AmazonS3ConfigKey = name
            .to_ascii_lowercase()
            .parse()
            .unwrap_or_else(|err| panic!("{name} is no object_store key: {err}"));
        builder = builder.with_config(key, value);
    }
    let store = builder
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap();
    PrefixStore::new(store, prefix)
}
