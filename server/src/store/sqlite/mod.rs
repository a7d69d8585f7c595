//! The SQLite database under `--data` (`ekphrasis.sqlite3`): opened once, migrated to the
//! latest schema at start (`migrations/sqlite/`, counted by `user_version`), and used from
//! blocking threads so the async runtime never waits on disk.

mod database;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

/// The schema's versions, in order; `PRAGMA user_version` records how many are applied.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_clap_alignment.sql",
        include_str!("../../../migrations/sqlite/0002_clap_alignment.sql"),
    ),
    (
        "0003_jobs.sql",
        include_str!("../../../migrations/sqlite/0003_jobs.sql"),
    ),
];

/// A handle on the database, cheaply cloned.
#[derive(Clone)]
pub struct Sqlite {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Sqlite {
    /// Opens (creating) the database file and applies every migration it lacks.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut connection = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .with_context(|| format!("{}: cannot set the journal mode", path.display()))?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut connection).with_context(|| format!("migrating {}", path.display()))?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_owned(),
        })
    }

    /// Runs `work` with the connection on a blocking thread.
    pub async fn call<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| anyhow::anyhow!("the database lock is poisoned"))?;
            work(&mut connection).map_err(anyhow::Error::from)
        })
        .await
        .context("a database task failed")?
    }
}

/// Applies, each in its own transaction, the migrations past the database's `user_version`.
fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    let applied: usize =
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    if applied > MIGRATIONS.len() {
        anyhow::bail!(
            "the database is at schema version {applied}, newer than this build knows ({}): \
             use a newer ekphrasis",
            MIGRATIONS.len()
        );
    }
    for (version, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("migration {name}"))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64)?;
        tx.commit()?;
        tracing::info!(migration = name, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_and_reopening_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let db = Sqlite::open(&path).unwrap();
        db.call(|c| {
            c.execute(
                "INSERT INTO images (id, width, height, mime, blob_key, created_at) \
                 VALUES ('a', 1, 2, 'image/png', 'images/a', 0)",
                [],
            )
        })
        .await
        .unwrap();
        drop(db);
        let db = Sqlite::open(&path).unwrap();
        let (count, version) = db
            .call(|c| {
                let count: i64 = c.query_row("SELECT count(*) FROM images", [], |r| r.get(0))?;
                let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                Ok((count, version))
            })
            .await
            .unwrap();
        assert_eq!(count, 1);
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_database_at_version_2_gains_jobs_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            for (version, (_, sql)) in MIGRATIONS[..2].iter().enumerate() {
                c.execute_batch(sql).unwrap();
                c.pragma_update(None, "user_version", version as i64 + 1)
                    .unwrap();
            }
            c.execute(
                "INSERT INTO images (id, width, height, mime, blob_key, created_at) \
                 VALUES ('a', 1, 2, 'image/png', 'images/a', 0)",
                [],
            )
            .unwrap();
        }
        drop(Sqlite::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        let version: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let images: i64 = c
            .query_row("SELECT count(*) FROM images", [], |r| r.get(0))
            .unwrap();
        let jobs: i64 = c
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!((version, images, jobs), (3, 1, 0));
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Sqlite::open(&path).err().unwrap();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }
}
