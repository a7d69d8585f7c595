//! Reading a PyTorch state dict from one file, whichever way it was saved, told apart by its
//! first bytes rather than its name: a `.safetensors` file, a zip `.pth` (`torch.save` since
//! PyTorch 1.6) or a legacy `.pth` (the older stream of pickles, [`legacy`]). The evaluation
//! models' published checkpoints come in all of these: VGGish's `vggish-10086976.pth` is a bare
//! state dict, PANNs' `Cnn14_mAP=0.431.pth` a dict whose `"model"` entry is one.
//!
//! - [`read_state_dict`]: every tensor by key, on the CPU in the dtypes saved (a `VarBuilder`
//!   converts them to the model's), optionally from a dict entry.
//! - [`legacy`]: the pre-1.6 format.

pub mod legacy;

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

/// The first bytes of a zip archive (a local file header).
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// The longest prefix [`FileLayout::of`] looks at.
const HEAD_LEN: usize = 16;

/// The tensors of the state dict at `path`, by key, on the CPU in the dtypes they were saved in.
///
/// With `entry` (such as `Some("model")`), a saved dict holding that entry gives the tensors
/// under it; a file without such a dict (a bare state dict) gives its own tensors, as with
/// `None`. `what` says what the file is for when it is missing.
///
/// A missing file is [`Error::MissingFile`], an unreadable one [`Error::Io`]; a file that is none
/// of the three layouts, is cut short or holds no tensors is [`Error::Weights`]. All name the
/// file.
pub fn read_state_dict(
    path: &Path,
    what: &'static str,
    entry: Option<&str>,
) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_owned(),
            what,
        });
    }
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let weights_error = |source| Error::Weights {
        path: path.to_owned(),
        source,
    };
    let mut head = Vec::with_capacity(HEAD_LEN);
    std::fs::File::open(path)
        .and_then(|file| file.take(HEAD_LEN as u64).read_to_end(&mut head))
        .map_err(io_error)?;
    let tensors: HashMap<String, Tensor> = match FileLayout::of(&head) {
        Some(FileLayout::TorchZip) => read_torch_zip(path, entry)
            .map_err(weights_error)?
            .into_iter()
            .collect(),
        Some(FileLayout::TorchLegacy) => {
            let reader = BufReader::new(std::fs::File::open(path).map_err(io_error)?);
            let tensors = legacy::read_legacy(reader, entry).map_err(weights_error)?;
            tensors.into_iter().collect()
        }
        Some(FileLayout::Safetensors) => {
            candle_core::safetensors::load(path, &Device::Cpu).map_err(weights_error)?
        }
        None => {
            return Err(weights_error(candle_core::Error::Msg(
                "neither a safetensors file nor a PyTorch .pth (zip or legacy)".into(),
            )));
        }
    };
    if tensors.is_empty() {
        let expected = match entry {
            Some(entry) => format!("a state dict, or a dict whose {entry:?} entry is one"),
            None => "a state dict".to_owned(),
        };
        return Err(weights_error(candle_core::Error::Msg(format!(
            "holds no tensors ({expected} was expected)"
        ))));
    }
    Ok(tensors)
}

/// How a checkpoint file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileLayout {
    /// `torch.save` since PyTorch 1.6: a zip archive.
    TorchZip,
    /// `torch.save` before 1.6: pickles and raw storages in one stream.
    TorchLegacy,
    /// The header's length (8 bytes, little-endian), then the JSON header.
    Safetensors,
}

impl FileLayout {
    /// The layout a file's first bytes announce, if any.
    fn of(head: &[u8]) -> Option<Self> {
        if head.starts_with(ZIP_MAGIC) {
            Some(Self::TorchZip)
        } else if head.starts_with(legacy::MAGIC_PICKLE) {
            Some(Self::TorchLegacy)
        } else if head.get(8) == Some(&b'{') {
            Some(Self::Safetensors)
        } else {
            None
        }
    }
}

/// The tensors of a torch zip: those under the dict entry `entry` when there is one, else those
/// of the whole saved object.
fn read_torch_zip(path: &Path, entry: Option<&str>) -> candle_core::Result<Vec<(String, Tensor)>> {
    let Some(entry) = entry else {
        return candle_core::pickle::read_all(path);
    };
    match candle_core::pickle::read_all_with_key(path, Some(entry)) {
        // candle's words for a dict without the entry: a bare state dict.
        Err(error)
            if error
                .to_string()
                .contains(&format!("key {entry} not found")) =>
        {
            candle_core::pickle::read_all(path)
        }
        read => read,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use candle_core::DType;

    use super::*;

    fn data(file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file)
    }

    fn sorted_values(tensors: &HashMap<String, Tensor>) -> Vec<(String, Vec<f32>)> {
        let mut values: Vec<_> = tensors
            .iter()
            .map(|(name, t)| {
                let t = t.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
                (name.clone(), t.to_vec1::<f32>().unwrap())
            })
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values
    }

    #[test]
    fn layouts_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            FileLayout::of(b"PK\x03\x04rest"),
            Some(FileLayout::TorchZip)
        );
        let mut legacy = legacy::MAGIC_PICKLE.to_vec();
        legacy.push(0x80);
        assert_eq!(FileLayout::of(&legacy), Some(FileLayout::TorchLegacy));
        assert_eq!(
            FileLayout::of(b"\x10\0\0\0\0\0\0\0{\"a\":"),
            Some(FileLayout::Safetensors)
        );
        assert_eq!(FileLayout::of(b"not a checkpoint"), None);
        assert_eq!(FileLayout::of(b""), None);
    }

    #[test]
    fn all_three_layouts_give_the_same_bare_state_dict_with_or_without_an_entry() {
        let read = |file: &str, entry| {
            let tensors = read_state_dict(&data(file), "test", entry).unwrap();
            sorted_values(&tensors)
        };
        let expected = read("vggish/vggish-narrow.safetensors", None);
        assert!(expected.iter().any(|(name, _)| name == "features.0.weight"));
        for file in [
            "vggish/vggish-narrow.pth",
            "vggish/vggish-narrow-legacy.pth",
        ] {
            for entry in [None, Some("model")] {
                assert_eq!(read(file, entry), expected, "{file} {entry:?}");
            }
        }
    }

    #[test]
    fn an_entry_selects_the_state_dict_of_a_checkpoint_dict() {
        let expected =
            read_state_dict(&data("panns/cnn14-tiny.safetensors"), "test", None).unwrap();
        let path = data("panns/cnn14-tiny.pth");
        let tensors = read_state_dict(&path, "test", Some("model")).unwrap();
        assert_eq!(sorted_values(&tensors), sorted_values(&expected));
        // Without the entry the dict's values ("iteration", "model") are no tensors.
        let error = read_state_dict(&path, "test", None).unwrap_err();
        assert!(matches!(error, Error::Weights { .. }), "{error}");
        assert!(format!("{error:#}").contains("cnn14-tiny.pth"), "{error:#}");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("no tensors"), "{source}");
    }

    #[test]
    fn missing_and_foreign_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.pth");
        let error = read_state_dict(&missing, "a test checkpoint", None).unwrap_err();
        assert!(matches!(error, Error::MissingFile { .. }), "{error}");
        assert!(error.to_string().contains("absent.pth"), "{error}");
        assert!(error.to_string().contains("a test checkpoint"), "{error}");
        let foreign = dir.path().join("notes.safetensors");
        std::fs::write(&foreign, b"plain text, whatever its name says").unwrap();
        let error = read_state_dict(&foreign, "test", None).unwrap_err();
        assert!(matches!(error, Error::Weights { .. }), "{error}");
        assert!(error.to_string().contains("notes.safetensors"), "{error}");
    }
}
