//! The shared database's schema: `migrations/postgres/`, applied in order, one transaction each,
//! recorded in `schema_migrations`. Each transaction first takes a transaction-scoped advisory
//! lock, so nodes starting together apply each migration once, one after another.

use anyhow::Context;
use tokio_postgres::Client;

use crate::store::unix_now;

/// The schema's versions, in order; `schema_migrations` records which are applied.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../../../migrations/postgres/0001_init.sql"),
)];

/// The advisory lock's key: "ekphrasi" in ASCII.
const LOCK: i64 = 0x656b_7068_7261_7369;

/// Applies every migration the database lacks; refuses a database newer than this build.
pub(super) async fn run(client: &mut Client) -> anyhow::Result<()> {
    loop {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version BIGINT PRIMARY KEY, \
                 name TEXT NOT NULL, \
                 applied_at BIGINT NOT NULL)",
        )
        .await?;
        let applied: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        let applied = applied as usize;
        if applied > MIGRATIONS.len() {
            anyhow::bail!(
                "the database is at schema version {applied}, newer than this build knows ({}): \
                 use a newer ekphrasis",
                MIGRATIONS.len()
            );
        }
        let Some((name, sql)) = MIGRATIONS.get(applied) else {
            tx.commit().await?;
            return Ok(());
        };
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("migration {name}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&(applied as i64 + 1), name, &unix_now()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = name, "database migrated");
    }
}
