//! How many connections the server keeps open and how long it waits on a quiet client; the
//! connection cap is kept below the file-descriptor limit, so a flood of connections is
//! refused with a 503 instead of leaving the server unable to open a file.

use std::time::Duration;

use super::refusal::REFUSALS_AT_ONCE;

/// Descriptors kept for everything but connections: the database, blobs being written, models
/// being read, the listener.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// The connection settings the accept loop works with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (WebSockets included); more are answered 503.
    pub max_connections: usize,
    /// How long a client may keep the server waiting: for a request's headers (or the next
    /// request on a kept-alive connection), between pieces of a body, to read what is sent.
    pub client_timeout: Duration,
}

impl ConnectionLimits {
    /// The asked-for limits with the connection cap lowered, if need be, below the
    /// descriptors this process may open (raised first to the hard limit).
    pub fn fitted(self) -> Self {
        let descriptors = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(soft) => soft,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the file-descriptor limit");
                return self;
            }
        };
        let fitted = self.fit_within(descriptors);
        if fitted.max_connections < self.max_connections {
            tracing::warn!(
                asked = self.max_connections,
                kept = fitted.max_connections,
                descriptors,
                "max_connections lowered to fit the file-descriptor limit (ulimit -n)"
            );
        }
        fitted
    }

    /// The same with the cap below `descriptors`, leaving the reserve and the refusals' share.
    pub fn fit_within(self, descriptors: u64) -> Self {
        let room = descriptors.saturating_sub(RESERVED_DESCRIPTORS + REFUSALS_AT_ONCE as u64);
        let max_connections = self
            .max_connections
            .min(usize::try_from(room).unwrap_or(usize::MAX))
            .max(1);
        Self {
            max_connections,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let asked = ConnectionLimits {
            max_connections: 10_000,
            client_timeout: Duration::from_secs(20),
        };
        let fitted = asked.fit_within(1024);
        assert_eq!(
            fitted.max_connections as u64,
            1024 - RESERVED_DESCRIPTORS - REFUSALS_AT_ONCE as u64
        );
        assert_eq!(asked.fit_within(1_000_000), asked);
        assert_eq!(asked.fit_within(10).max_connections, 1);
    }
}
