//! CNN14's front end, torchlibrosa's `Spectrogram` and `LogmelFilterBank` as PANNs builds them:
//! the STFT as two strided convolutions whose kernels (Hann-windowed DFT rows) come from the
//! checkpoint, over the clip reflect-padded by half a window on each side (`center=True`); the
//! power spectrogram re² + im²; the checkpoint's mel matrix (librosa's Slaney mel); then
//! 10·log10(max(mel, 1e-10)) with ref 1 and no top-dB clamp.

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::{Error, Result};

/// torchlibrosa's `amin`: the floor of the mel power before the log.
const AMIN: f32 = 1e-10;

/// The STFT kernels and mel matrix of one checkpoint, with the hop it is run at.
pub struct LogMel {
    /// The real and imaginary kernels side by side, transposed: (window, 2 × bins).
    kernels: Tensor,
    /// The mel matrix: (bins, mel bands).
    mel: Tensor,
    window: usize,
    bins: usize,
    hop: usize,
}

impl LogMel {
    /// The front end in `vb` for an STFT `window` (`spectrogram_extractor.stft.conv_{real,imag}
    /// .weight`, shape (window / 2 + 1, 1, window)) and `mel_bands` bands
    /// (`logmel_extractor.melW`, shape (window / 2 + 1, mel_bands)), run at `hop`.
    pub fn new(
        vb: &VarBuilder,
        window: usize,
        mel_bands: usize,
        hop: usize,
    ) -> candle_core::Result<Self> {
        let bins = window / 2 + 1;
        let stft = vb.pp("spectrogram_extractor.stft");
        let real = stft.get((bins, 1, window), "conv_real.weight")?;
        let imag = stft.get((bins, 1, window), "conv_imag.weight")?;
        let mel = vb.pp("logmel_extractor").get((bins, mel_bands), "melW")?;
        let kernels = Tensor::cat(&[real.squeeze(1)?, imag.squeeze(1)?], 0)?
            .t()?
            .contiguous()?;
        Ok(Self {
            kernels,
            mel,
            window,
            bins,
            hop,
        })
    }

    /// The STFT window (n_fft).
    pub fn window(&self) -> usize {
        self.window
    }

    /// The hop between frames.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The number of frames the front end gives for `samples` samples: one per hop, plus one.
    pub fn frames(&self, samples: usize) -> usize {
        samples / self.hop + 1
    }

    /// The log-mel spectrogram of `samples`, shape (frames, mel bands), before CNN14's bn0.
    /// Fails on a clip no longer than half a window (reflect padding needs more).
    pub fn log_mel(&self, samples: &[f32], device: &Device) -> Result<Tensor> {
        let pad = self.window / 2;
        if samples.len() <= pad {
            return Err(Error::Input(format!(
                "PANNs front end: a clip of {} samples is too short for reflect padding by {pad}",
                samples.len()
            )));
        }
        let padded = reflect_pad(samples, pad);
        let frames = self.frames(samples.len());
        let mut framed = Vec::with_capacity(frames * self.window);
        for frame in 0..frames {
            let start = frame * self.hop;
            framed.extend_from_slice(&padded[start..start + self.window]);
        }
        let framed = Tensor::from_vec(framed, (frames, self.window), device)?;
        let spectrum = framed.matmul(&self.kernels)?;
        let real = spectrum.narrow(1, 0, self.bins)?;
        let imag = spectrum.narrow(1, self.bins, self.bins)?;
        let power = (real.sqr()? + imag.sqr()?)?;
        let mel = power.matmul(&self.mel)?;
        let log_mel = (mel.maximum(AMIN)?.log()? * (10.0 / std::f64::consts::LN_10))?;
        Ok(log_mel)
    }
}

/// `samples` with `pad` samples mirrored on each side, the edge sample not repeated (torch's
/// `reflect` padding).
fn reflect_pad(samples: &[f32], pad: usize) -> Vec<f32> {
    let last = samples.len() - 1;
    let mut padded = Vec::with_capacity(samples.len() + 2 * pad);
    padded.extend((1..=pad).rev().map(|i| samples[i]));
    padded.extend_from_slice(samples);
    padded.extend((1..=pad).map(|i| samples[last - i]));
    padded
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, DType};

    #[test]
    fn reflect_pad_mirrors_without_the_edge() {
        assert_eq!(
            reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2),
            [3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
        );
    }

    #[test]
    fn a_tone_peaks_at_its_bin() {
        // Hann-windowed DFT kernels for a window of 64, an identity-like mel matrix.
        let window = 64;
        let bins = window / 2 + 1;
        let hann: Vec<f64> = (0..window)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / window as f64).cos())
            .collect();
        let kernel = |f: fn(f64) -> f64| -> Vec<f32> {
            (0..bins)
                .flat_map(|k| {
                    let hann = &hann;
                    (0..window).map(move |n| {
                        (hann[n] * f(-2.0 * std::f64::consts::PI * (k * n) as f64 / window as f64))
                            as f32
                    })
                })
                .collect()
        };
        let device = Device::Cpu;
        let mut tensors = std::collections::HashMap::new();
        tensors.insert(
            "spectrogram_extractor.stft.conv_real.weight".to_string(),
            Tensor::from_vec(kernel(f64::cos), (bins, 1, window), &device).unwrap(),
        );
        tensors.insert(
            "spectrogram_extractor.stft.conv_imag.weight".to_string(),
            Tensor::from_vec(kernel(f64::sin), (bins, 1, window), &device).unwrap(),
        );
        tensors.insert(
            "logmel_extractor.melW".to_string(),
            Tensor::eye(bins, DType::F32, &device).unwrap(),
        );
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let front = LogMel::new(&vb, window, bins, 16).unwrap();
        let tone: Vec<f32> = (0..640)
            .map(|n| (2.0 * std::f32::consts::PI * 5.0 * n as f32 / 64.0).sin())
            .collect();
        let log_mel = front.log_mel(&tone, &device).unwrap();
        assert_eq!(log_mel.dims(), [41, bins]);
        let peaks: Vec<u32> = log_mel.argmax(D::Minus1).unwrap().to_vec1().unwrap();
        // The edge frames hold the reflected padding; every full frame peaks at bin 5.
        assert!(peaks[1..40].iter().all(|&k| k == 5), "{peaks:?}");
    }
}
