//! The flags of `ekphrasis serve` (each also read from an environment variable), merged with the
//! optional TOML file and the defaults into checked [`ServeConfig`]. `gallery render` and
//! `bench server` take the same flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use ekphrasis_shared::domain::Variant;

use super::{ConfigError, ConfigFile, ServeConfig};

/// Flags of `ekphrasis serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "EKPHRASIS_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Folder where everything the server keeps lives [default: data].
    #[arg(long, env = "EKPHRASIS_DATA")]
    pub data: Option<PathBuf>,
    /// Folder of model checkpoints.
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// Folder of the built web app [default: dist].
    #[arg(long, env = "EKPHRASIS_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Largest accepted upload in bytes [default: 20000000].
    #[arg(long, env = "EKPHRASIS_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<usize>,
    /// Largest accepted image in pixels [default: 50000000].
    #[arg(long, env = "EKPHRASIS_MAX_PIXELS")]
    pub max_pixels: Option<u64>,
    /// Where image and audio files go: a folder, or with the `s3` build feature an
    /// object-store URL such as s3://bucket/prefix [default: DATA/blobs].
    #[arg(long, env = "EKPHRASIS_STORE")]
    pub store: Option<String>,
    /// Gallery folder with gallery.toml [default: public/gallery].
    #[arg(long, env = "EKPHRASIS_GALLERY")]
    pub gallery: Option<PathBuf>,
    /// Run the tiny demo models (their music is noise) even when real models are present.
    #[arg(long, env = "EKPHRASIS_DEMO")]
    pub demo: bool,
    /// The variants this process serves, as VARIANT[,VARIANT…] (e.g. `optimized` for a worker
    /// with the tuned MusicGen): a worker takes only their jobs and its card lists only them
    /// [default: every variant its models can run].
    #[arg(long, env = "EKPHRASIS_VARIANTS", value_delimiter = ',', value_parser = parse_variant)]
    pub variants: Vec<Variant>,
    /// The fine-tuned MusicGen of the optimized variant (a checkpoint directory); the same as
    /// --variant-musicgen optimized=DIR.
    #[arg(long, env = "EKPHRASIS_OPTIMIZED_MUSICGEN")]
    pub optimized_musicgen: Option<PathBuf>,
    /// A fine-tuned MusicGen for one variant, as VARIANT=DIR (repeatable; the environment takes
    /// a comma-separated list). A variant without one composes with the base MusicGen.
    #[arg(long, env = "EKPHRASIS_VARIANT_MUSICGEN", value_delimiter = ',', value_parser = parse_variant_dir)]
    pub variant_musicgen: Vec<(Variant, PathBuf)>,
    /// A CLAP checkpoint folder (Hugging Face layout) that judges how closely each new track
    /// matches its words [default: MODELS/clap/, else laion/clap-htsat-unfused if cached].
    #[arg(long, env = "EKPHRASIS_CLAP")]
    pub clap: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N [default: auto].
    #[arg(long, env = "EKPHRASIS_DEVICE")]
    pub device: Option<String>,
    /// Falcon-RW's and MusicGen's decoder weights: auto (on a CPU q8_0 and q4k, as measured
    /// best; on CUDA as loaded), none, q8_0 or q4k [default: auto].
    #[arg(long, env = "EKPHRASIS_QUANTIZE")]
    pub quantize: Option<String>,
    /// Copies of the models, each running one job at a time [default: 1].
    #[arg(long, env = "EKPHRASIS_WORKERS")]
    pub workers: Option<usize>,
    /// Jobs that may wait for a worker [default: 32].
    #[arg(long, env = "EKPHRASIS_QUEUE_CAPACITY")]
    pub queue_capacity: Option<usize>,
    /// The longest a job may run, in seconds [default: 900].
    #[arg(long, env = "EKPHRASIS_JOB_TIMEOUT_SECS")]
    pub job_timeout_secs: Option<u64>,
    /// Seconds a piece goes on after its WebSocket closes without a cancel, for the page to
    /// reconnect and resume it (and a finished piece's output is kept for one); 0 stops it at
    /// once [default: 30].
    #[arg(long, env = "EKPHRASIS_RESUME_GRACE_SECS")]
    pub resume_grace_secs: Option<u64>,
    /// In a cluster (web nodes): seconds a piece waits while no live worker serves its variant
    /// before it is withdrawn and its client told; 0 waits however long it takes [default: 120].
    #[arg(long, env = "EKPHRASIS_UNSERVED_WAIT_SECS")]
    pub unserved_wait_secs: Option<u64>,
    /// The address people reach this server at, for share-link previews
    /// [default: from each request's Host header].
    #[arg(long, env = "EKPHRASIS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Another web origin whose pages may open the WebSocket and upload images, as
    /// `https://host[:port]` (repeatable; the environment takes a comma-separated list). The
    /// server's own origin and --public-url's are always allowed.
    #[arg(long, env = "EKPHRASIS_ALLOWED_ORIGIN", value_delimiter = ',')]
    pub allowed_origin: Vec<String>,
    /// Connections open at once, WebSockets included; more are answered 503 [default: 1024,
    /// lowered to fit the file-descriptor limit].
    #[arg(long, env = "EKPHRASIS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client may keep the server waiting: for a request's headers, between pieces
    /// of an upload, to read what is sent; WebSockets are pinged this often [default: 20].
    #[arg(long, env = "EKPHRASIS_CLIENT_TIMEOUT_SECS")]
    pub client_timeout_secs: Option<u64>,
    /// What this process does: `all` (HTTP and the models, needing no other server) or `web`
    /// (a cluster's web node: no models; jobs go through --broker to `ekphrasis worker`s)
    /// [default: all].
    #[arg(long, env = "EKPHRASIS_ROLE")]
    pub role: Option<String>,
    /// A cluster's NATS JetStream broker, e.g. nats://127.0.0.1:4222.
    #[arg(long, env = "EKPHRASIS_BROKER")]
    pub broker: Option<String>,
    /// A cluster's PostgreSQL database, e.g. postgres://ekphrasis@db:5432/ekphrasis.
    #[arg(long, env = "EKPHRASIS_DATABASE")]
    pub database: Option<String>,
    /// Seconds a worker may go without reporting progress on a job before the broker hands it
    /// to another worker [default: 30].
    #[arg(long, env = "EKPHRASIS_ACK_WAIT_SECS")]
    pub ack_wait_secs: Option<u64>,
    /// TOML file with any of the settings above (flags and environment win over it).
    #[arg(long, env = "EKPHRASIS_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ServeArgs {
    /// Merges flags, the optional file and defaults into checked settings.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let defaults = ServeConfig::with_data("data");
        let variants = served_variants(self.variants, file.variants)?;
        let config = ServeConfig {
            addr: self.addr.or(file.addr).unwrap_or(defaults.addr),
            data: self.data.or(file.data).unwrap_or(defaults.data),
            models: self.models.or(file.models),
            static_dir: self
                .static_dir
                .or(file.static_dir)
                .unwrap_or(defaults.static_dir),
            max_upload_bytes: self
                .max_upload_bytes
                .or(file.max_upload_bytes)
                .unwrap_or(defaults.max_upload_bytes),
            max_pixels: self
                .max_pixels
                .or(file.max_pixels)
                .unwrap_or(defaults.max_pixels),
            store: self.store.or(file.store),
            gallery: self.gallery.or(file.gallery).unwrap_or(defaults.gallery),
            demo: self.demo || file.demo.unwrap_or(false),
            variants,
            variant_musicgen: variant_musicgens(
                if self.variant_musicgen.is_empty() {
                    file.variant_musicgen
                        .unwrap_or_default()
                        .iter()
                        .map(|text| parse_variant_dir(text).map_err(ConfigError::Invalid))
                        .collect::<Result<_, _>>()?
                } else {
                    self.variant_musicgen
                },
                self.optimized_musicgen.or(file.optimized_musicgen),
            )?,
            clap: self.clap.or(file.clap),
            device: match self.device.or(file.device) {
                Some(text) => text
                    .parse()
                    .map_err(|e| ConfigError::Invalid(format!("device: {e}")))?,
                None => defaults.device,
            },
            quantize: match self.quantize.or(file.quantize) {
                Some(text) => text
                    .parse()
                    .map_err(|e| ConfigError::Invalid(format!("quantize: {e}")))?,
                None => defaults.quantize,
            },
            workers: self.workers.or(file.workers).unwrap_or(defaults.workers),
            queue_capacity: self
                .queue_capacity
                .or(file.queue_capacity)
                .unwrap_or(defaults.queue_capacity),
            job_timeout_secs: self
                .job_timeout_secs
                .or(file.job_timeout_secs)
                .unwrap_or(defaults.job_timeout_secs),
            resume_grace_secs: self
                .resume_grace_secs
                .or(file.resume_grace_secs)
                .unwrap_or(defaults.resume_grace_secs),
            unserved_wait_secs: self
                .unserved_wait_secs
                .or(file.unserved_wait_secs)
                .unwrap_or(defaults.unserved_wait_secs),
            public_url: self
                .public_url
                .or(file.public_url)
                .map(|url| url.trim_end_matches('/').to_owned()),
            allowed_origins: if self.allowed_origin.is_empty() {
                file.allowed_origin.unwrap_or_default()
            } else {
                self.allowed_origin
            }
            .into_iter()
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .collect(),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.max_connections),
            client_timeout_secs: self
                .client_timeout_secs
                .or(file.client_timeout_secs)
                .unwrap_or(defaults.client_timeout_secs),
            role: match self.role.or(file.role) {
                Some(text) => text
                    .parse()
                    .map_err(|e| ConfigError::Invalid(format!("role: {e}")))?,
                None => defaults.role,
            },
            broker: self.broker.or(file.broker),
            database: self.database.or(file.database),
            ack_wait_secs: self
                .ack_wait_secs
                .or(file.ack_wait_secs)
                .unwrap_or(defaults.ack_wait_secs),
        };
        config.validate()?;
        Ok(config)
    }
}

/// A variant by its name (`emotive`, `narrative`, `lyrical`, `optimized`), for clap.
pub fn parse_variant(text: &str) -> Result<Variant, String> {
    Variant::from_name(text.trim()).ok_or_else(|| {
        let names: Vec<_> = Variant::ALL.iter().map(|v| v.as_str()).collect();
        format!(
            "unknown variant `{}`: choose {}",
            text.trim(),
            names.join(", ")
        )
    })
}

/// `VARIANT=DIR`, as `--variant-musicgen` takes it.
pub fn parse_variant_dir(text: &str) -> Result<(Variant, PathBuf), String> {
    let Some((name, dir)) = text.split_once('=') else {
        return Err(format!(
            "`{text}` is not VARIANT=DIR (e.g. lyrical=tuned/lyrical)"
        ));
    };
    let variant = parse_variant(name).map_err(|e| format!("{e} (in `{text}`)"))?;
    if dir.trim().is_empty() {
        return Err(format!("`{text}` names no folder"));
    }
    Ok((variant, PathBuf::from(dir.trim())))
}

/// The variants to serve: the flag's, else the file's (an empty list there is refused: leaving
/// the key out serves every variant); empty means every variant the models can run.
fn served_variants(
    flag: Vec<Variant>,
    file: Option<Vec<Variant>>,
) -> Result<Vec<Variant>, ConfigError> {
    if !flag.is_empty() {
        return Ok(flag);
    }
    match file {
        Some(list) if list.is_empty() => Err(ConfigError::Invalid(
            "variants = [] names no variant: leave it out to serve every variant the models \
             can run"
                .into(),
        )),
        list => Ok(list.unwrap_or_default()),
    }
}

/// The tuned MusicGens, the optimized shorthand added; a variant named twice is refused.
pub fn variant_musicgens(
    mut list: Vec<(Variant, PathBuf)>,
    optimized: Option<PathBuf>,
) -> Result<Vec<(Variant, PathBuf)>, ConfigError> {
    if let Some(dir) = optimized {
        list.push((Variant::Optimized, dir));
    }
    for (i, (variant, _)) in list.iter().enumerate() {
        if list[..i].iter().any(|(v, _)| v == variant) {
            return Err(ConfigError::Invalid(format!(
                "two fine-tuned MusicGens for the {variant} variant"
            )));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_musicgens_are_read_and_the_optimized_shorthand_joins_them() {
        assert_eq!(
            parse_variant_dir("lyrical=tuned/lyrical"),
            Ok((Variant::Lyrical, PathBuf::from("tuned/lyrical")))
        );
        for bad in ["lyrical", "baroque=x", "lyrical="] {
            assert!(parse_variant_dir(bad).is_err(), "{bad}");
        }
        let both = variant_musicgens(
            vec![(Variant::Lyrical, "a".into())],
            Some(PathBuf::from("b")),
        )
        .unwrap();
        assert_eq!(
            both,
            [
                (Variant::Lyrical, "a".into()),
                (Variant::Optimized, "b".into())
            ]
        );
        let twice = variant_musicgens(
            vec![(Variant::Optimized, "a".into())],
            Some(PathBuf::from("b")),
        )
        .unwrap_err();
        assert!(twice.to_string().contains("optimized"), "{twice}");
    }
}
