//! Serve settings: command-line flags (each with an environment variable), an optional TOML file,
//! then defaults, in that order of precedence; validated before the server starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `ekphrasis serve` needs, complete and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Where everything the server keeps lives (uploads, later tracks and the database).
    pub data: PathBuf,
    /// Folder of model checkpoints (`emotion/`, `clip/`, `blip/`, `falcon/`, `musicgen/`).
    pub models: Option<PathBuf>,
    /// The built web app (Trunk's output).
    pub static_dir: PathBuf,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: usize,
    /// Largest accepted image, in pixels (width × height), against decompression bombs.
    pub max_pixels: u64,
}

impl ServeConfig {
    /// Default address: loopback only, so nothing is exposed until asked for.
    pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
    /// Default upload limit: 20 MB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 20_000_000;
    /// Default pixel limit: 50 megapixels.
    pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;

    /// Settings for a data folder, with every other value at its default.
    pub fn with_data(data: impl Into<PathBuf>) -> Self {
        Self {
            addr: Self::DEFAULT_ADDR.parse().expect("valid default address"),
            data: data.into(),
            models: None,
            static_dir: PathBuf::from("dist"),
            max_upload_bytes: Self::DEFAULT_MAX_UPLOAD_BYTES,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
        }
    }

    /// Refuses settings the server cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_upload_bytes == 0 {
            return Err(ConfigError::Invalid(
                "max_upload_bytes must be above 0".into(),
            ));
        }
        if self.max_pixels == 0 {
            return Err(ConfigError::Invalid("max_pixels must be above 0".into()));
        }
        Ok(())
    }
}

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
}

impl ConfigFile {
    /// Reads and parses a TOML file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
    }
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
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
    }

    #[test]
    fn zero_limits_are_refused() {
        let mut config = ServeConfig::with_data("d");
        assert!(config.validate().is_ok());
        config.max_upload_bytes = 0;
        assert!(config.validate().is_err());
    }
}
