//! Generation as transformers' MusicGen `generate` does it — the delay pattern, classifier-free
//! guidance batched with the conditional branch, greedy or seeded top-k sampling — with frames
//! handed out as soon as they are complete, and audiocraft's windowed continuation for music
//! longer than one window.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Tensor;

use super::MusicGen;
use super::decoder::{CrossKv, Decoder};
use super::delay::DelayPattern;
use super::sampling::{Sampler, Sampling};
use crate::error::{Error, Result};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Audio frames after the delay is undone (50 per second).
    pub frames: usize,
    /// Classifier-free guidance scale; 1 runs the conditional branch only.
    pub guidance: f64,
    /// Greedy or top-k sampling.
    pub sampling: Sampling,
    /// Seed of the sampler.
    pub seed: u64,
    /// How music longer than one window is continued.
    pub window: Window,
}

impl Default for GenerateOptions {
    /// The paper's settings: top-k 250, temperature 1, guidance 3; 15 s.
    fn default() -> Self {
        Self {
            frames: 750,
            guidance: 3.0,
            sampling: Sampling::DEFAULT,
            seed: 0,
            window: Window::default(),
        }
    }
}

/// Windowed continuation, as audiocraft makes music longer than the model was trained on: each
/// window after the first is conditioned on the last `max_frames − stride_frames` frames of the
/// previous one and adds `stride_frames` new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Frames in one window, prompt included (30 s at 50 frames/s).
    pub max_frames: usize,
    /// New frames each further window adds (10 s).
    pub stride_frames: usize,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            max_frames: 1500,
            stride_frames: 500,
        }
    }
}

impl Window {
    /// This window for a model that holds at most `model_frames` frames: unchanged when it
    /// fits, else `model_frames` long with the stride scaled to the same share of new frames (at
    /// least one, and short of the whole window when the model holds more than one frame).
    pub fn fitted(self, model_frames: usize) -> Self {
        if self.max_frames <= model_frames {
            return self;
        }
        let stride = self.stride_frames * model_frames / self.max_frames.max(1);
        Self {
            max_frames: model_frames,
            stride_frames: stride.clamp(1, model_frames.saturating_sub(1).max(1)),
        }
    }
}

/// The longest music one generation may make, in seconds.
pub const MAX_SECONDS: usize = 120;

/// Classifier-free guidance on raw logits, as transformers applies it:
/// `uncond + (cond − uncond) · scale`.
pub fn guide(cond: &[f32], uncond: &[f32], scale: f64) -> Vec<f32> {
    let scale = scale as f32;
    cond.iter()
        .zip(uncond)
        .map(|(c, u)| u + (c - u) * scale)
        .collect()
}

/// Refuses a guidance scale or sampling settings that cannot be used.
fn check_sampling(options: &GenerateOptions) -> Result<()> {
    if !options.guidance.is_finite() || options.guidance < 1.0 {
        return Err(Error::Input(format!(
            "guidance: must be at least 1, got {}",
            options.guidance
        )));
    }
    if let Sampling::TopK { top_k, temperature } = options.sampling
        && (top_k == 0 || !(temperature.is_finite() && temperature > 0.0))
    {
        return Err(Error::Input(format!(
            "sampling: top-k must be at least 1 and the temperature above 0, got \
             {top_k} and {temperature}"
        )));
    }
    Ok(())
}

/// What stays fixed across the windows of one generation.
struct Run<'a> {
    cross: &'a [CrossKv],
    guided: bool,
    guidance: f64,
    sampler: Sampler,
    cancel: &'a AtomicBool,
}

impl<'a> Run<'a> {
    fn new(
        cross: &'a [CrossKv],
        rows: usize,
        options: &GenerateOptions,
        cancel: &'a AtomicBool,
    ) -> Self {
        Self {
            cross,
            guided: rows == 2,
            guidance: options.guidance,
            sampler: Sampler::new(options.sampling, options.seed),
            cancel,
        }
    }
}

impl MusicGen {
    /// Generates codes for a prompt, calling `on_frame(index, codes)` as soon as every codebook
    /// of a frame is known. Checks `cancel` before every decoder step. Returns `codes[k][f]`.
    pub fn generate(
        &mut self,
        prompt: &str,
        options: &GenerateOptions,
        cancel: &AtomicBool,
        on_frame: impl FnMut(usize, &[u32]),
    ) -> Result<Vec<Vec<u32>>> {
        let ids = self.tokenize(prompt)?;
        self.generate_from_tokens(&ids, options, cancel, on_frame)
    }

    /// [`MusicGen::generate`] for already tokenised text.
    pub fn generate_from_tokens(
        &mut self,
        ids: &[u32],
        options: &GenerateOptions,
        cancel: &AtomicBool,
        mut on_frame: impl FnMut(usize, &[u32]),
    ) -> Result<Vec<Vec<u32>>> {
        self.check(options)?;
        let (memory, rows) = self.guided_memory(ids, options.guidance)?;
        let cross = self.decoder.cross_kv(&memory)?;
        let mut run = Run::new(&cross, rows, options, cancel);
        let result = self.windows(&mut run, options, &mut on_frame);
        self.decoder.clear_kv_cache();
        result
    }

    /// Continues `prompt` (`prompt[k]` holds the first frames of codebook k) to `frames`
    /// frames in a single window, as transformers' `generate` with `decoder_input_ids` does.
    /// Returns the whole window's codes, the prompt included.
    pub fn continue_codes(
        &mut self,
        prompt_text: &str,
        prompt: &[Vec<u32>],
        frames: usize,
        options: &GenerateOptions,
        cancel: &AtomicBool,
        mut on_frame: impl FnMut(usize, &[u32]),
    ) -> Result<Vec<Vec<u32>>> {
        let codebooks = self.config.decoder.num_codebooks;
        let known = prompt.first().map_or(0, Vec::len);
        if prompt.len() != codebooks || prompt.iter().any(|p| p.len() != known) {
            return Err(Error::Input(format!(
                "prompt: expected {codebooks} codebooks of equal length"
            )));
        }
        let vocab = self.config.decoder.vocab_size as u32;
        if prompt.iter().flatten().any(|&c| c >= vocab) {
            return Err(Error::Input(format!("prompt: codes must be below {vocab}")));
        }
        if frames <= known || frames > self.max_frames() {
            return Err(Error::Input(format!(
                "frames: one window holds more than the prompt's {known} and at most {} frames, \
                 got {frames}",
                self.max_frames()
            )));
        }
        check_sampling(options)?;
        let ids = self.tokenize(prompt_text)?;
        let (memory, rows) = self.guided_memory(&ids, options.guidance)?;
        let cross = self.decoder.cross_kv(&memory)?;
        let mut run = Run::new(&cross, rows, options, cancel);
        let result = self.window(&mut run, prompt, frames, &mut on_frame);
        self.decoder.clear_kv_cache();
        result
    }

    /// Teacher forcing: the guided logits with which each frame's codes would be chosen, for the
    /// single-window codes `codes[k][f]`, in one decoder pass. Returns `[frame][codebook][vocab]`
    /// (the row for codebook k of frame f is the prediction of `codes[k][f]`).
    pub fn scores_for(
        &mut self,
        ids: &[u32],
        codes: &[Vec<u32>],
        guidance: f64,
    ) -> Result<Vec<Vec<Vec<f32>>>> {
        let codebooks = self.config.decoder.num_codebooks;
        let frames = codes.first().map_or(0, Vec::len);
        if codes.len() != codebooks || frames == 0 || frames > self.max_frames() {
            return Err(Error::Input(format!(
                "codes: expected {codebooks} codebooks of 1 to {} frames",
                self.max_frames()
            )));
        }
        let pad = self.config.decoder.pad_token_id();
        let pattern = DelayPattern { codebooks, frames };
        let steps = pattern.steps();
        let delayed: Vec<u32> = (0..codebooks)
            .flat_map(|k| {
                (0..steps).map(move |p| pattern.frame_at(k, p).map_or(pad, |f| codes[k][f]))
            })
            .collect();
        let (memory, rows) = self.guided_memory(ids, guidance)?;
        let guided = rows == 2;
        let ids = Tensor::from_vec(delayed.repeat(rows), (rows, codebooks, steps), &self.device)?;
        // (rows, codebooks, steps, vocab): position p predicts position p + 1.
        let logits = self
            .logits_for_memory(&memory, &ids)?
            .to_dtype(candle_core::DType::F32)?;
        let logits: Vec<Vec<Vec<Vec<f32>>>> = (0..rows)
            .map(|r| logits.get(r)?.to_vec3::<f32>())
            .collect::<candle_core::Result<_>>()?;
        Ok((0..frames)
            .map(|f| {
                (0..codebooks)
                    .map(|k| {
                        let p = pattern.position(k, f) - 1;
                        if guided {
                            guide(&logits[0][k][p], &logits[1][k][p], guidance)
                        } else {
                            logits[0][k][p].clone()
                        }
                    })
                    .collect()
            })
            .collect())
    }

    /// The decoder memory for text, and its rows: with guidance, the unconditional branch
    /// attends to all-zero text states (transformers multiplies the projected states by the
    /// all-zero mask), batched after the conditional one.
    fn guided_memory(&mut self, ids: &[u32], guidance: f64) -> Result<(Tensor, usize)> {
        let memory = self.memory_of(ids)?;
        if guidance == 1.0 {
            return Ok((memory, 1));
        }
        Ok((Tensor::cat(&[&memory, &memory.zeros_like()?], 0)?, 2))
    }

    fn check(&self, options: &GenerateOptions) -> Result<()> {
        let max = MAX_SECONDS * self.config.audio_encoder.frame_rate();
        if options.frames == 0 || options.frames > max {
            return Err(Error::Input(format!(
                "frames: must be between 1 and {max} ({MAX_SECONDS} s), got {}",
                options.frames
            )));
        }
        let window = options.window;
        if window.stride_frames == 0 || window.stride_frames >= window.max_frames {
            return Err(Error::Input(format!(
                "window: a stride of {} frames must be at least 1 and less than the window's {}",
                window.stride_frames, window.max_frames
            )));
        }
        let fitted = window.fitted(self.max_frames());
        if options.frames > fitted.max_frames && fitted.stride_frames >= fitted.max_frames {
            return Err(Error::Input(format!(
                "frames: this model holds {} frame(s) at a time, too few to continue to {}",
                fitted.max_frames, options.frames
            )));
        }
        check_sampling(options)
    }

    /// Generates window after window until `options.frames` frames exist.
    fn windows(
        &mut self,
        run: &mut Run<'_>,
        options: &GenerateOptions,
        on_frame: &mut impl FnMut(usize, &[u32]),
    ) -> Result<Vec<Vec<u32>>> {
        let codebooks = self.config.decoder.num_codebooks;
        // The window only matters past the model's positions: a shorter model gets a shorter one.
        let Window {
            max_frames,
            stride_frames,
        } = options.window.fitted(self.max_frames());
        let mut all = vec![Vec::with_capacity(options.frames); codebooks];
        let mut prompt = vec![Vec::new(); codebooks];
        let mut offset = 0;
        loop {
            let frames = (options.frames - offset).min(max_frames);
            let codes = self.window(run, &prompt, frames, &mut |f, frame| {
                on_frame(offset + f, frame)
            })?;
            let known = prompt[0].len();
            for (all, codes) in all.iter_mut().zip(&codes) {
                all.extend_from_slice(&codes[known..]);
            }
            if offset + frames >= options.frames {
                return Ok(all);
            }
            offset += stride_frames;
            prompt = codes.iter().map(|c| c[stride_frames..].to_vec()).collect();
        }
    }

    /// One window of `frames` frames whose first `prompt[k].len()` are given; calls `on_frame`
    /// for each new frame (window-relative index) and returns the window's codes.
    fn window(
        &mut self,
        run: &mut Run<'_>,
        prompt: &[Vec<u32>],
        frames: usize,
        on_frame: &mut impl FnMut(usize, &[u32]),
    ) -> Result<Vec<Vec<u32>>> {
        let codebooks = self.config.decoder.num_codebooks;
        let pad = self.config.decoder.pad_token_id();
        let pattern = DelayPattern { codebooks, frames };
        let known_frames = prompt[0].len();
        // What a position holds when it is not generated: the pad, or a prompt code.
        let known = |k: usize, position: usize| match pattern.frame_at(k, position) {
            None => Some(pad),
            Some(f) if f < known_frames => Some(prompt[k][f]),
            Some(_) => None,
        };
        let rows = if run.guided { 2 } else { 1 };
        self.decoder.clear_kv_cache();
        let mut sequences: Vec<Vec<u32>> = (0..codebooks)
            .map(|k| {
                (0..=known_frames)
                    .map(|p| known(k, p).expect("prompt positions are known"))
                    .collect()
            })
            .collect();
        if known_frames > 0 {
            // Every position before `known_frames` is known: feed them in one pass.
            let ids: Vec<u32> = sequences
                .iter()
                .flat_map(|seq| seq[..known_frames].iter().copied())
                .collect();
            let shape = (rows, codebooks, known_frames);
            let ids = Tensor::from_vec(ids.repeat(rows), shape, &self.device)?;
            self.decoder.forward(&ids, run.cross)?;
        }
        for step in known_frames..pattern.steps() {
            if run.cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let column: Vec<u32> = sequences.iter().map(|seq| seq[step]).collect();
            let ids = Tensor::from_vec(column.repeat(rows), (rows, codebooks, 1), &self.device)?;
            let logits = Decoder::last_logits(&self.decoder.forward(&ids, run.cross)?)?;
            let position = step + 1;
            for (k, seq) in sequences.iter_mut().enumerate() {
                let token = match known(k, position) {
                    Some(token) => token,
                    None if run.guided => {
                        let guided = guide(&logits[0][k], &logits[1][k], run.guidance);
                        run.sampler.choose(&guided)
                    }
                    None => run.sampler.choose(&logits[0][k]),
                };
                seq.push(token);
            }
            if let Some(frame) = pattern.completed_frame(position)
                && frame >= known_frames
            {
                let codes: Vec<u32> = (0..codebooks)
                    .map(|k| sequences[k][pattern.position(k, frame)])
                    .collect();
                on_frame(frame, &codes);
            }
        }
        Ok(pattern.revert(&sequences))
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn a_window_shrinks_to_the_model_keeping_its_share_of_new_frames() {
        let paper = Window::default();
        assert_eq!(paper.fitted(1500), paper);
        assert_eq!(paper.fitted(2048), paper);
        let short = paper.fitted(100);
        assert_eq!((short.max_frames, short.stride_frames), (100, 33));
        let two = paper.fitted(2);
        assert_eq!((two.max_frames, two.stride_frames), (2, 1));
        let one = paper.fitted(1);
        assert_eq!((one.max_frames, one.stride_frames), (1, 1));
    }
}
