//! The optional TOML settings file of `serve`: the same keys as the flags in snake case, all
//! optional; an unknown key is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ekphrasis_shared::domain::Variant;
use serde::Deserialize;

use super::ConfigError;

/// The optional TOML file: the same keys as the flags, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub addr: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    pub models: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
    pub max_upload_bytes: Option<usize>,
    pub max_pixels: Option<u64>,
    pub store: Option<String>,
    pub gallery: Option<PathBuf>,
    pub demo: Option<bool>,
    /// `["optimized", …]`, as `--variants` takes them.
    pub variants: Option<Vec<Variant>>,
    pub optimized_musicgen: Option<PathBuf>,
    /// `["lyrical=DIR", …]`, as the flag takes them.
    pub variant_musicgen: Option<Vec<String>>,
    pub clap: Option<PathBuf>,
    pub device: Option<String>,
    pub quantize: Option<String>,
    pub workers: Option<usize>,
    pub queue_capacity: Option<usize>,
    pub job_timeout_secs: Option<u64>,
    pub resume_grace_secs: Option<u64>,
    pub unserved_wait_secs: Option<u64>,
    pub public_url: Option<String>,
    /// `["https://museum.example.org", …]`, as `--allowed-origin` takes them.
    pub allowed_origin: Option<Vec<String>>,
    pub max_connections: Option<usize>,
    pub client_timeout_secs: Option<u64>,
    pub role: Option<String>,
    pub broker: Option<String>,
    pub database: Option<String>,
    pub ack_wait_secs: Option<u64>,
}

impl ConfigFile {
    /// Reads and parses a TOML file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_parse_and_unknown_keys_are_refused() {
        let file: ConfigFile =
            toml::from_str("addr = \"0.0.0.0:9000\"\nmax_pixels = 10\n").unwrap();
        assert_eq!(file.addr, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(file.max_pixels, Some(10));
        assert!(toml::from_str::<ConfigFile>("adress = \"x\"").is_err());
        let file: ConfigFile = toml::from_str("variants = [\"optimized\"]\n").unwrap();
        assert_eq!(file.variants, Some(vec![Variant::Optimized]));
        let err = toml::from_str::<ConfigFile>("variants = [\"baroque\"]").unwrap_err();
        assert!(err.to_string().contains("baroque"), "{err}");
    }
}
