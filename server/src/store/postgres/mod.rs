//! The shared PostgreSQL database of a cluster (tokio-postgres, without TLS): a few connections
//! used in turn, each opened again on its next use after it was lost, so while PostgreSQL is
//! down every operation fails naming it, and once it is back the next one works. Migrated at
//! open (`migrations/postgres/`).

mod database;
mod migrate;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls};

/// How many connections one server keeps.
const CONNECTIONS: usize = 4;

/// A handle on the database; share it behind an `Arc`.
pub struct Postgres {
    config: tokio_postgres::Config,
    /// The URL without its password, for messages.
    shown: String,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/name`, or
    /// libpq's `key=value` form) and applies every migration it lacks.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let shown = redact(url);
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("PostgreSQL at {shown}: not a connection URL: {e}"))?;
        config
            .application_name("ekphrasis")
            .connect_timeout(Duration::from_secs(5))
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(30));
        let db = Self {
            config,
            shown,
            slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        let mut connection = db.connection().await?;
        migrate::run(&mut connection)
            .await
            .with_context(|| format!("PostgreSQL at {}: migrating", db.shown))?;
        drop(connection);
        Ok(db)
    }

    /// The database's URL without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// A connection of its own for one operation: the first idle one, else the next in turn
    /// once it is free; (re)connected if it was lost.
    async fn connection(&self) -> anyhow::Result<Connection<'_>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let idle =
            (0..CONNECTIONS).find_map(|i| self.slots[(start + i) % CONNECTIONS].try_lock().ok());
        let mut slot = match idle {
            Some(slot) => slot,
            None => self.slots[start % CONNECTIONS].lock().await,
        };
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = None;
            *slot = Some(self.connect().await?);
        }
        Ok(Connection { db: self, slot })
    }

    async fn connect(&self) -> anyhow::Result<Client> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            anyhow::Error::new(e).context(format!("PostgreSQL at {} is unreachable", self.shown))
        })?;
        let shown = self.shown.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(database = %shown, "PostgreSQL connection lost: {e}");
            }
        });
        Ok(client)
    }
}

/// One connection, held for one operation.
struct Connection<'a> {
    db: &'a Postgres,
    slot: MutexGuard<'a, Option<Client>>,
}

impl Connection<'_> {
    /// `result` with the database named in its error; a connection that broke is dropped, to be
    /// opened again on its next use.
    fn check<T>(
        &mut self,
        result: Result<T, tokio_postgres::Error>,
        what: &str,
    ) -> anyhow::Result<T> {
        result.map_err(|e| {
            if e.is_closed() || self.slot.as_ref().is_none_or(Client::is_closed) {
                *self.slot = None;
            }
            anyhow::Error::new(e).context(format!("PostgreSQL at {}: {what}", self.db.shown))
        })
    }
}

impl Deref for Connection<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.slot.as_ref().expect("a held connection is open")
    }
}

impl DerefMut for Connection<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.slot.as_mut().expect("a held connection is open")
    }
}

/// `url` without its password: `postgres://user:secret@host/db` → `postgres://user@host/db`,
/// `password=secret` → `password=…`.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if let Some((credentials, host)) = authority.rsplit_once('@') {
            let user = credentials
                .split_once(':')
                .map_or(credentials, |(user, _)| user);
            return format!("{scheme}://{user}@{host}{tail}");
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=…"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(
            redact("postgres://ek:s3cret@db.local:5432/ekphrasis?sslmode=disable"),
            "postgres://ek@db.local:5432/ekphrasis?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://postgres@127.0.0.1:5/x"),
            "postgresql://postgres@127.0.0.1:5/x"
        );
        assert_eq!(redact("postgres://host/db"), "postgres://host/db");
        assert_eq!(
            redact("host=db user=ek password=s3cret dbname=x"),
            "host=db user=ek password=… dbname=x"
        );
    }

    #[tokio::test]
    async fn an_unreachable_database_is_named_without_its_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("postgres://ek:s3cret@127.0.0.1:{port}/ekphrasis");
        let err = Postgres::open(&url).await.err().unwrap();
        let text = format!("{err:#}");
        assert!(
            text.contains("PostgreSQL at postgres://ek@127.0.0.1"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}
