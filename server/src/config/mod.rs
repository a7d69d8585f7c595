//! Serve settings: command-line flags (each with an environment variable), an optional TOML file,
//! then defaults, in that order of precedence; validated before the server starts.
//!
//! - [`ServeConfig`]: the settings, complete and checked.
//! - [`flags`]: the `serve` flags ([`ServeArgs`]) and merging them with the file and defaults;
//!   `gallery render` and `bench server` take the same flags.
//! - [`toml_file`]: the optional TOML file ([`ConfigFile`]).

pub mod flags;
pub mod toml_file;

pub use flags::ServeArgs;
pub use toml_file::ConfigFile;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::checkpoints::quantize::QuantizeChoice;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_shared::domain::Variant;

use crate::serve::ConnectionLimits;

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
    /// Where image and audio files go: a folder or (with the `s3` feature) an object-store URL;
    /// `None`: `data/blobs`.
    pub store: Option<String>,
    /// The gallery folder (with `gallery.toml`).
    pub gallery: PathBuf,
    /// Run the tiny demo models even when real ones are present.
    pub demo: bool,
    /// The variants this process serves (`--variants`; a worker takes only their jobs); empty:
    /// every variant its models can run. Each must be one the models can run.
    pub variants: Vec<Variant>,
    /// Fine-tuned MusicGens, one a variant at most (`--variant-musicgen VARIANT=DIR`; the
    /// optimized variant needs one, the others compose with the base MusicGen without).
    pub variant_musicgen: Vec<(Variant, PathBuf)>,
    /// The CLAP model that judges each track's alignment with its words (`--clap DIR`).
    pub clap: Option<PathBuf>,
    /// Where the models run.
    pub device: DeviceChoice,
    /// Falcon-RW's and MusicGen's decoder weights quantized (`auto`: as measured best on the
    /// device).
    pub quantize: QuantizeChoice,
    /// Copies of the models, each running one job at a time.
    pub workers: usize,
    /// Jobs that may wait for a worker.
    pub queue_capacity: usize,
    /// The longest a job may run, in seconds.
    pub job_timeout_secs: u64,
    /// Seconds a job whose WebSocket closed (without `cancel`) goes on for its client to
    /// `resume` it, and a finished job's output is kept for one; 0 cancels at once.
    pub resume_grace_secs: u64,
    /// In a cluster, seconds a piece waits while no live worker serves its variant (its last
    /// worker stopped) before a web node withdraws it and tells its client; 0 waits however
    /// long it takes.
    pub unserved_wait_secs: u64,
    /// The address people reach the server at (`https://music.example.org`), for the absolute
    /// links of share previews; by default taken from each request's Host header.
    pub public_url: Option<String>,
    /// Web origins besides the server's own whose pages may open the WebSocket and upload
    /// (`--allowed-origin https://museum.example.org`); the public URL's origin is allowed too.
    pub allowed_origins: Vec<String>,
    /// Connections open at once, WebSockets included; more are answered 503 (kept below the
    /// file-descriptor limit).
    pub max_connections: usize,
    /// How long, in seconds, a client may keep the server waiting: for a request's headers (or
    /// the next request on a kept-alive connection), between pieces of an upload, to read what
    /// is sent; a WebSocket is pinged this often and closed after three times this in silence.
    pub client_timeout_secs: u64,
    /// What this process does: everything (`all`, the default) or a cluster's web node (`web`).
    pub role: Role,
    /// A cluster's broker, `nats://host:port` (web nodes and workers).
    pub broker: Option<String>,
    /// A cluster's database, `postgres://user@host:port/name` (web nodes and workers).
    pub database: Option<String>,
    /// Seconds a worker may go without reporting progress on a job before the broker hands it
    /// to another worker.
    pub ack_wait_secs: u64,
}

/// What a `serve` process does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// The HTTP server, the WebSocket and the models in one process (needs no other server).
    #[default]
    All,
    /// A cluster's web node: HTTP, WebSockets and uploads; jobs go through the broker to
    /// `ekphrasis worker` processes.
    Web,
    /// A cluster's model worker (`ekphrasis worker`): jobs from the broker, no web app.
    Worker,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "all" => Ok(Role::All),
            "web" => Ok(Role::Web),
            "worker" => Ok(Role::Worker),
            other => Err(format!("unknown role `{other}`: choose all or web")),
        }
    }
}

impl ServeConfig {
    /// Default address: loopback only, so nothing is exposed until asked for.
    pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
    /// Default upload limit: 20 MB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 20_000_000;
    /// Default pixel limit: 50 megapixels.
    pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;
    /// Default gallery folder, as the repository ships it.
    pub const DEFAULT_GALLERY: &str = "public/gallery";
    /// Default number of waiting jobs.
    pub const DEFAULT_QUEUE_CAPACITY: usize = 32;
    /// Default job time limit: 15 minutes (two minutes of music on a CPU, f32, fits).
    pub const DEFAULT_JOB_TIMEOUT_SECS: u64 = 900;
    /// Default grace for a job whose client went away: [`crate::jobs::RESUME_GRACE`].
    pub const DEFAULT_RESUME_GRACE_SECS: u64 = crate::jobs::RESUME_GRACE.as_secs();
    /// Default wait for a worker serving a piece's variant: two minutes (a worker restarting
    /// takes less).
    pub const DEFAULT_UNSERVED_WAIT_SECS: u64 = 120;
    /// Default connection cap.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    /// Default client timeout: 20 seconds.
    pub const DEFAULT_CLIENT_TIMEOUT_SECS: u64 = 20;
    /// Default time a worker may go silent on a job before it is handed to another.
    pub const DEFAULT_ACK_WAIT_SECS: u64 = 30;

    /// Settings for a data folder, with every other value at its default.
    pub fn with_data(data: impl Into<PathBuf>) -> Self {
        Self {
            addr: Self::DEFAULT_ADDR.parse().expect("valid default address"),
            data: data.into(),
            models: None,
            static_dir: PathBuf::from("dist"),
            max_upload_bytes: Self::DEFAULT_MAX_UPLOAD_BYTES,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            store: None,
            gallery: PathBuf::from(Self::DEFAULT_GALLERY),
            demo: false,
            variants: Vec::new(),
            variant_musicgen: Vec::new(),
            clap: None,
            device: DeviceChoice::Auto,
            quantize: QuantizeChoice::Auto,
            workers: 1,
            queue_capacity: Self::DEFAULT_QUEUE_CAPACITY,
            job_timeout_secs: Self::DEFAULT_JOB_TIMEOUT_SECS,
            resume_grace_secs: Self::DEFAULT_RESUME_GRACE_SECS,
            unserved_wait_secs: Self::DEFAULT_UNSERVED_WAIT_SECS,
            public_url: None,
            allowed_origins: Vec::new(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            client_timeout_secs: Self::DEFAULT_CLIENT_TIMEOUT_SECS,
            role: Role::All,
            broker: None,
            database: None,
            ack_wait_secs: Self::DEFAULT_ACK_WAIT_SECS,
        }
    }

    /// Checks what a cluster process (a web node or a worker) needs: the broker, the database
    /// and a shared file store.
    pub fn validate_cluster(&self, who: &str) -> Result<(), ConfigError> {
        let missing: Vec<&str> = [
            ("--broker nats://…", self.broker.is_none()),
            ("--database postgres://…", self.database.is_none()),
            ("--store s3://bucket/prefix", self.store.is_none()),
        ]
        .into_iter()
        .filter_map(|(flag, absent)| absent.then_some(flag))
        .collect();
        if !missing.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{who} needs {}: the processes of a cluster share them",
                missing.join(", ")
            )));
        }
        if self.ack_wait_secs < 2 {
            return Err(ConfigError::Invalid(format!(
                "ack_wait_secs must be at least 2, got {}",
                self.ack_wait_secs
            )));
        }
        Ok(())
    }

    /// The accept loop's settings.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            client_timeout: self.client_timeout(),
        }
    }

    /// [`Self::client_timeout_secs`] as a duration.
    pub fn client_timeout(&self) -> Duration {
        Duration::from_secs(self.client_timeout_secs)
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
        if !(1..=64).contains(&self.workers) {
            return Err(ConfigError::Invalid(format!(
                "workers must be between 1 and 64, got {}",
                self.workers
            )));
        }
        if self.job_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "job_timeout_secs must be above 0".into(),
            ));
        }
        if self.resume_grace_secs > 3600 {
            return Err(ConfigError::Invalid(format!(
                "resume_grace_secs must be at most 3600 (an hour), got {}",
                self.resume_grace_secs
            )));
        }
        if self.unserved_wait_secs > 86_400 {
            return Err(ConfigError::Invalid(format!(
                "unserved_wait_secs must be at most 86400 (a day), got {}",
                self.unserved_wait_secs
            )));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be above 0".into(),
            ));
        }
        if self.client_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "client_timeout_secs must be above 0".into(),
            ));
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "allowed_origin must start with http:// or https://, got {origin}"
                )));
            }
        }
        if self.role == Role::Web && !self.variants.is_empty() {
            return Err(ConfigError::Invalid(
                "--variants is for `ekphrasis worker` (or a single process): a web node offers \
                 what its workers serve"
                    .into(),
            ));
        }
        match self.role {
            Role::Web => self.validate_cluster("--role web")?,
            Role::Worker => self.validate_cluster("ekphrasis worker")?,
            Role::All if self.broker.is_some() || self.database.is_some() => {
                return Err(ConfigError::Invalid(
                    "--broker and --database are for a cluster: `serve --role web` and \
                     `ekphrasis worker`"
                        .into(),
                ));
            }
            Role::All => {}
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url must start with http:// or https://, got {url}"
            )));
        }
        Ok(())
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
    fn zero_limits_are_refused() {
        let mut config = ServeConfig::with_data("d");
        assert!(config.validate().is_ok());
        config.max_upload_bytes = 0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_web_node_names_what_it_lacks() {
        let mut config = ServeConfig::with_data("d");
        config.role = Role::Web;
        config.broker = Some("nats://127.0.0.1:4222".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("--database") && err.contains("--store"),
            "{err}"
        );
        assert!(!err.contains("--broker"), "{err}");
        config.database = Some("postgres://postgres@127.0.0.1/ekphrasis".into());
        config.store = Some("s3://music/ekphrasis".into());
        assert!(config.validate().is_ok());
        config.variants = vec![Variant::Lyrical];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("--variants"), "{err}");
        config.variants.clear();
        config.role = Role::All;
        assert!(
            config.validate().is_err(),
            "a single process takes no broker"
        );
    }
}
