//! Choosing where models run: the CPU, or an NVIDIA GPU when built with the `cuda` feature.

use candle_core::{DType, Device};

use crate::error::{Error, Result};

/// Where to run the models, as named on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The GPU when this build has CUDA and one is present, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// CUDA device number n; an error when this build has no CUDA.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| {
                    Error::Input(format!(
                        "unknown device `{other}`: use auto, cpu, cuda or cuda:N"
                    ))
                }),
        }
    }
}

impl DeviceChoice {
    /// Opens the chosen device.
    pub fn open(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Auto if candle_core::utils::cuda_is_available() => Ok(Device::new_cuda(0)?),
            Self::Auto => Ok(Device::Cpu),
            Self::Cuda(_) if !candle_core::utils::cuda_is_available() => Err(Error::Input(
                "this build has no CUDA support: rebuild with `--features cuda`".into(),
            )),
            Self::Cuda(n) => Ok(Device::new_cuda(n)?),
        }
    }
}

/// The device's kind, for people: `CPU` or `CUDA`.
pub fn kind_name(device: &Device) -> &'static str {
    if device.is_cuda() { "CUDA" } else { "CPU" }
}

/// The dtype to compute in on a device: f32 on the CPU, bf16 on a GPU that supports it.
pub fn compute_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else {
        DType::F32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert_eq!(
            "cuda".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(0)
        );
        assert!("tpu".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn cpu_computes_in_f32() {
        let device = DeviceChoice::Cpu.open().unwrap();
        assert_eq!(compute_dtype(&device), DType::F32);
    }
}
