//! What the page knows about its link to the server, and how that is said in words.

/// The state of the WebSocket to the server, as the connection badge shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the socket, or waiting for the server's hello.
    #[default]
    Connecting,
    /// The handshake is done: requests can be sent.
    Connected,
    /// The connection dropped; the next try is this many seconds away.
    Reconnecting { in_seconds: u32 },
    /// The page has stopped trying (for example after a protocol mismatch).
    Disconnected,
}

impl ConnectionState {
    /// The machine-readable name, for the badge's `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Disconnected => "disconnected",
        }
    }

    /// The state in words, for the badge's text.
    pub fn words(self) -> String {
        match self {
            ConnectionState::Connecting => "Connecting…".to_owned(),
            ConnectionState::Connected => "Connected".to_owned(),
            ConnectionState::Reconnecting { in_seconds } => {
                format!("Reconnecting in {in_seconds} s")
            }
            ConnectionState::Disconnected => "Disconnected".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_words_agree() {
        let states = [
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Reconnecting { in_seconds: 4 },
            ConnectionState::Disconnected,
        ];
        for state in states {
            assert!(
                state.words().to_lowercase().starts_with(state.name()),
                "{state:?}"
            );
        }
        assert_eq!(
            ConnectionState::Reconnecting { in_seconds: 4 }.words(),
            "Reconnecting in 4 s"
        );
    }
}
