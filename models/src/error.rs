//! The models crate's error type: each variant says which file, field or stage is at fault.

use std::path::{Path, PathBuf};

/// A failure to load or run a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the checkpoint needs is not there.
    #[error("{path}: missing ({what})")]
    MissingFile { path: PathBuf, what: &'static str },
    /// A file could not be read. (The cause is the error's source: `{:#}` shows it once.)
    #[error("{path}: cannot be read")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config file is not valid JSON for the expected shape.
    #[error("{path}: not a valid config")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A config asks for something this implementation does not support.
    #[error("{path}: field `{field}`: {message}")]
    Unsupported {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
    /// A tokenizer file could not be loaded.
    #[error("{path}: not a usable tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// A checkpoint's weights do not fit the model (a missing key, a wrong shape, a foreign file).
    #[error("{path}: the weights do not fit")]
    Weights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    /// The caller's input is unusable (an empty prompt, a length out of range).
    #[error("{0}")]
    Input(String),
    /// A tensor operation failed while running a model.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The work was cancelled by its caller.
    #[error("cancelled")]
    Cancelled,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config option this implementation cannot honour, before it is tied to a file: what each
/// config's `validate()` returns. [`Unsupported::at`] names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct Unsupported {
    /// The config field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Unsupported {
    /// The refusal of `field`, saying why.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// The crate error for this refusal in the config at `path` (a file, or a description
    /// such as "(built-in config)").
    pub fn at(self, path: impl AsRef<Path>) -> Error {
        Error::Unsupported {
            path: path.as_ref().to_owned(),
            field: self.field,
            message: self.message,
        }
    }
}
