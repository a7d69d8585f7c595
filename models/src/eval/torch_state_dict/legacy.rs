//! The stream `torch.save` wrote before PyTorch 1.6 (`_legacy_save`), which checkpoints published
//! before mid-2020 may be in (VGGish's and PANNs' of 2019): pickles and raw storages, one after
//! the other.
//!
//! The layout: a pickle of the magic number 0x1950a86a20f9469cfc6c, one of the protocol version
//! (1001), one of the system facts (byte order, type sizes), the saved object itself (its tensors
//! `_rebuild_tensor_v2` calls whose storages are persistent ids `('storage', type, key, location,
//! numel, view)`), a pickle of the storage keys, then each storage in that order: its element
//! count as a little-endian u64, then its raw little-endian elements. Storages that no tensor of
//! the wanted state dict uses (an optimizer's) are skipped, not kept.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::{DType, Device, Layout, Tensor, bail};

/// The first pickle of every legacy checkpoint: protocol 2, the magic number as a 10-byte LONG1,
/// STOP.
pub const MAGIC_PICKLE: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
/// The serialization protocol version the legacy format writes.
const PROTOCOL_VERSION: i64 = 1001;

/// The tensors of a legacy checkpoint read from `reader` (at its first byte), on the CPU in the
/// dtypes they were saved in: those of the dict entry `entry` when the saved object is a dict
/// holding it, else those of the saved object itself.
pub fn read_legacy<R: BufRead>(
    mut reader: R,
    entry: Option<&str>,
) -> candle_core::Result<Vec<(String, Tensor)>> {
    let mut magic = [0u8; MAGIC_PICKLE.len()];
    reader.read_exact(&mut magic)?;
    if magic != MAGIC_PICKLE {
        bail!("not a legacy PyTorch checkpoint (no magic number)")
    }
    let version = read_pickle(&mut reader)?;
    if !matches!(version, Object::Int(v) if i64::from(v) == PROTOCOL_VERSION)
        && version != Object::Long(PROTOCOL_VERSION)
    {
        bail!("legacy checkpoint of protocol {version:?}, not {PROTOCOL_VERSION}")
    }
    if is_big_endian(&read_pickle(&mut reader)?) {
        bail!("legacy checkpoint written on a big-endian machine (not supported)")
    }
    let saved = read_pickle(&mut reader)?;
    let storage_keys = read_storage_keys(&mut reader)?;
    let mut storage_types = HashMap::new();
    collect_storage_types(&saved, &mut storage_types)?;

    let Object::Dict(entries) = select_entry(saved, entry) else {
        bail!("legacy checkpoint: the state dict is not a dict")
    };
    let mut infos = Vec::new();
    for (name, value) in entries {
        // Entries that are not tensors (`_metadata`) give None; a tensor of a storage type candle
        // cannot hold is an error.
        if let Some(info) = value.into_tensor_info(name, Path::new(""))? {
            infos.push(info);
        }
    }
    let wanted: HashSet<&str> = infos.iter().map(|info| storage_key(&info.path)).collect();

    let mut storages = HashMap::new();
    for key in storage_keys {
        let dtype = *storage_types
            .get(&key)
            .ok_or_else(|| candle_core::Error::Msg(format!("storage {key} has no known type")))?;
        let bytes = read_storage_size(&mut reader, dtype)
            .ok_or_else(|| candle_core::Error::Msg(format!("storage {key} is cut short")))?;
        if wanted.contains(key.as_str()) {
            let mut data = vec![0u8; bytes];
            reader
                .read_exact(&mut data)
                .map_err(|_| candle_core::Error::Msg(format!("storage {key} is cut short")))?;
            storages.insert(key, data);
        } else {
            let skipped =
                std::io::copy(&mut (&mut reader).take(bytes as u64), &mut std::io::sink())?;
            if skipped != bytes as u64 {
                bail!("storage {key} is cut short")
            }
        }
    }

    infos
        .into_iter()
        .map(|info| {
            let data = storages.get(storage_key(&info.path)).ok_or_else(|| {
                candle_core::Error::Msg(format!("{}: its storage is not in the file", info.name))
            })?;
            let tensor = tensor_from_storage(&info, data)
                .map_err(|e| e.context(format!("tensor {}", info.name)))?;
            Ok((info.name, tensor))
        })
        .collect()
}

/// One pickle from the stream.
fn read_pickle<R: BufRead>(reader: &mut R) -> candle_core::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(reader)?;
    stack.finalize()
}

/// Whether the system facts say the storages were written big-endian.
fn is_big_endian(system_facts: &Object) -> bool {
    let Object::Dict(entries) = system_facts else {
        return false;
    };
    let little_endian = Object::Unicode("little_endian".to_owned());
    entries
        .iter()
        .any(|(key, value)| *key == little_endian && *value == Object::Bool(false))
}

/// The pickled list of storage keys, in the order the storages follow.
fn read_storage_keys<R: BufRead>(reader: &mut R) -> candle_core::Result<Vec<String>> {
    match read_pickle(reader)? {
        Object::List(keys) | Object::Tuple(keys) => keys
            .into_iter()
            .map(|key| key.unicode().map_err(candle_core::Error::from))
            .collect(),
        other => bail!("legacy checkpoint: the storage keys are {other:?}"),
    }
}

/// A storage's size in bytes from its element-count header, or None when the stream ends first
/// or the size overflows.
fn read_storage_size<R: Read>(reader: &mut R, dtype: DType) -> Option<usize> {
    let mut count = [0u8; 8];
    reader.read_exact(&mut count).ok()?;
    usize::try_from(u64::from_le_bytes(count))
        .ok()?
        .checked_mul(dtype.size_in_bytes())
}

/// The dict entry `entry` of the saved object when it is a dict holding one, else the object.
fn select_entry(saved: Object, entry: Option<&str>) -> Object {
    let Some(entry) = entry else {
        return saved;
    };
    match saved {
        Object::Dict(mut entries) => {
            let wanted = Object::Unicode(entry.to_owned());
            match entries.iter().position(|(key, _)| *key == wanted) {
                Some(index) => entries.swap_remove(index).1,
                None => Object::Dict(entries),
            }
        }
        other => other,
    }
}

/// The storage key at the end of a tensor info's path ("/<key>").
fn storage_key(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Every storage's key and element type, from the persistent ids anywhere in the saved object
/// (the storages of entries other than the state dict must be known to be skipped).
fn collect_storage_types(
    object: &Object,
    types: &mut HashMap<String, DType>,
) -> candle_core::Result<()> {
    match object {
        Object::PersistentLoad(id) => {
            let Object::Tuple(fields) = id.as_ref() else {
                bail!("legacy checkpoint: a persistent id {id:?}")
            };
            if let [
                Object::Unicode(kind),
                Object::Class { class_name, .. },
                Object::Unicode(key),
                _,
                _,
                view,
            ] = fields.as_slice()
                && kind == "storage"
            {
                if *view != Object::None {
                    bail!("legacy checkpoint: storage {key} is a view of another (not supported)")
                }
                types.insert(key.clone(), storage_dtype(class_name)?);
            }
        }
        Object::Tuple(items) | Object::List(items) => {
            for item in items {
                collect_storage_types(item, types)?;
            }
        }
        Object::Dict(entries) => {
            for (key, value) in entries {
                collect_storage_types(key, types)?;
                collect_storage_types(value, types)?;
            }
        }
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            collect_storage_types(callable, types)?;
            collect_storage_types(args, types)?;
        }
        _ => {}
    }
    Ok(())
}

/// The element type of a torch storage class (for its size; candle reads fewer types as tensors).
fn storage_dtype(class_name: &str) -> candle_core::Result<DType> {
    Ok(match class_name {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "ByteStorage" | "BoolStorage" | "CharStorage" => DType::U8,
        "ShortStorage" => DType::I16,
        "IntStorage" => DType::I32,
        "LongStorage" => DType::I64,
        other => bail!("legacy checkpoint: unsupported storage type {other}"),
    })
}

/// The tensor `info` describes over its storage's bytes `data`, copied into a contiguous one:
/// its layout's shape, strides in elements and start in bytes.
fn tensor_from_storage(info: &TensorInfo, data: &[u8]) -> candle_core::Result<Tensor> {
    let (layout, dtype) = (&info.layout, info.dtype);
    let dims = layout.dims();
    if layout.shape().elem_count() == 0 {
        return Tensor::zeros(dims, dtype, &Device::Cpu);
    }
    let size = dtype.size_in_bytes();
    let last_element: usize = dims
        .iter()
        .zip(layout.stride())
        .map(|(&dim, &stride)| (dim - 1) * stride)
        .sum();
    let end = layout.start_offset() + (last_element + 1) * size;
    if end > data.len() {
        bail!("reaches byte {end} of a storage of {} bytes", data.len())
    }
    let bytes = if layout.is_contiguous() {
        data[layout.start_offset()..end].to_vec()
    } else {
        gather_strided(data, layout, size)
    };
    Tensor::from_raw_buffer(&bytes, dtype, dims, &Device::Cpu)
}

/// The elements of `size` bytes that a strided `layout` selects from `data`, in row-major order.
fn gather_strided(data: &[u8], layout: &Layout, size: usize) -> Vec<u8> {
    let (dims, strides) = (layout.dims(), layout.stride());
    let count = layout.shape().elem_count();
    let mut bytes = Vec::with_capacity(count * size);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..count {
        let element: usize = index.iter().zip(strides).map(|(&i, &s)| i * s).sum();
        let offset = layout.start_offset() + element * size;
        bytes.extend_from_slice(&data[offset..offset + size]);
        for axis in (0..dims.len()).rev() {
            index[axis] += 1;
            if index[axis] < dims[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    bytes
}
