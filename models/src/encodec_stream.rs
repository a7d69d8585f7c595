//! Streaming EnCodec decoding: code frames in as they are generated, final PCM chunks out, equal
//! to the whole-at-once [`Decoder::decode`] while decoding each frame a bounded number of times.
//!
//! # Design
//! The decoder is three stages (see [`crate::encodec::seanet`]), and the stream runs each with the
//! context it needs instead of re-decoding overlapping windows from scratch:
//!
//! 1. **First convolution** (kernel 7 over code frames): run on windows of codes widened by its
//!    receptive field (3 frames each side for MusicGen); only outputs whose kernel saw real codes
//!    are kept. A window that reaches the true start of the stream starts there, so reflect
//!    padding happens exactly where the whole decode has it.
//! 2. **LSTM**: causal, so its exact receptive field is the whole past. The stream *carries its
//!    state* from one window to the next: every frame goes through it once, and the result is
//!    the whole decode's, not an approximation whose error depends on how fast the LSTM forgets.
//! 3. **Upsampling stack** (transposed convolutions, residual blocks, last convolution): run on
//!    windows of LSTM outputs `[start − left, end + right)`, where `left`/`right` come from
//!    [`Decoder::receptive_field_with_extra`] (1 and 1 frames for MusicGen, computed from the
//!    config), and only the samples of `[start, end)` are kept. The right side also covers a
//!    short crossfade tail: the samples just past `end` are kept from this window and blended
//!    linearly into the next window's first samples (2.5 ms by default). Since both windows
//!    see their full receptive field there, the blend changes nothing beyond float noise; it is
//!    a guard against clicks should the context ever be too short.
//!
//! A chunk of `chunk_frames` frames is emitted as soon as its lookahead has arrived (the
//! receptive field's right side: 3 + 1 frames for MusicGen, 80 ms), and [`StreamingDecoder::finish`]
//! decodes the rest with reflect padding at the true end. Samples come out in order, each once.
//!
//! # Cost
//! Windows of a stage partition the frames into runs of at least `chunk_frames` (the last run
//! may be shorter) widened by `(left, right)`, so a frame passes through a stage at most
//! `1 + ceil(left / chunk) + ceil(right / chunk)` times ([`StreamingDecoder::max_passes`]):
//! 3 for MusicGen with 10-frame chunks, about 1.2 on average. Work per frame is constant and
//! memory is bounded by one window; nothing is ever re-decoded from the start.
//!
//! The stream holds its decoder in an [`Arc`], so it can move to the compute thread that feeds
//! it while other streams share the same weights.

use std::collections::VecDeque;
use std::sync::Arc;

use candle_core::{DType, Result, Tensor, bail};

use crate::encodec::{Decoder, LstmState, ReceptiveField};

/// Settings of a [`StreamingDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Frames per emitted chunk (10 frames = 200 ms for MusicGen). Values below 1 count as 1.
    pub chunk_frames: usize,
    /// Length of the linear crossfade at each seam, in samples (80 = 2.5 ms at 32 kHz); at most
    /// one chunk long (longer values are clamped).
    pub crossfade_samples: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            chunk_frames: 10,
            crossfade_samples: 80,
        }
    }
}

/// How often each frame went through the decoder's stages so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// Frames pushed.
    pub frames: usize,
    /// Upsampling windows decoded (one per emitted chunk, plus one at the end).
    pub windows: usize,
    /// The most times any one frame went through the upsampling stack.
    pub upsample_max_passes: u32,
    /// Frame passes through the upsampling stack, summed over frames.
    pub upsample_frame_passes: u64,
    /// The most times any one frame went through the first convolution.
    pub conv_in_max_passes: u32,
    /// Frame passes through the first convolution, summed over frames.
    pub conv_in_frame_passes: u64,
    /// LSTM steps run (each frame exactly once).
    pub lstm_steps: u64,
}

/// Counts passes per frame for the frames a later window may still touch, folding the others
/// into a running maximum and sum so that memory stays bounded.
#[derive(Debug, Clone, Default)]
struct PassCounter {
    base: usize,
    live: VecDeque<u32>,
    max: u32,
    total: u64,
}

impl PassCounter {
    fn add(&mut self, start: usize, end: usize) {
        debug_assert!(start >= self.base);
        while self.base + self.live.len() < end {
            self.live.push_back(0);
        }
        for f in start..end {
            self.live[f - self.base] += 1;
        }
        self.total += (end - start) as u64;
    }

    fn retire_below(&mut self, frame: usize) {
        while self.base < frame {
            if let Some(n) = self.live.pop_front() {
                self.max = self.max.max(n);
            }
            self.base += 1;
        }
    }

    fn max(&self) -> u32 {
        self.live.iter().copied().fold(self.max, u32::max)
    }
}

/// Turns code frames into PCM (f32, mono) as they arrive; see the module docs for the design.
#[derive(Debug)]
pub struct StreamingDecoder {
    decoder: Arc<Decoder>,
    chunk: usize,
    crossfade: usize,
    hop: usize,
    num_codebooks: usize,
    codebook_size: usize,
    field: ReceptiveField,
    /// Codes of frames `codes_base..frames`, frame-major (`num_codebooks` per frame).
    codes: Vec<u32>,
    codes_base: usize,
    frames: usize,
    lstm_state: Option<LstmState>,
    /// LSTM outputs `[1, dim, y_done − y_base]` for frames `y_base..y_done`.
    lstm_out: Option<Tensor>,
    y_base: usize,
    y_done: usize,
    /// Frames whose samples have been returned.
    emitted: usize,
    /// Samples `emitted·hop ..` from the last window, to blend into the next one.
    tail: Vec<f32>,
    finished: bool,
    windows: usize,
    conv_in_passes: PassCounter,
    upsample_passes: PassCounter,
}

impl StreamingDecoder {
    /// A stream over `decoder`, which it shares.
    pub fn new(decoder: Arc<Decoder>, options: StreamOptions) -> Self {
        let cfg = decoder.config();
        let hop = cfg.hop_length();
        let chunk = options.chunk_frames.max(1);
        let crossfade = options.crossfade_samples.min(chunk * hop);
        let field = decoder.receptive_field_with_extra(crossfade);
        Self {
            chunk,
            crossfade,
            hop,
            num_codebooks: cfg.num_codebooks(),
            codebook_size: cfg.codebook_size,
            field,
            codes: Vec::new(),
            codes_base: 0,
            frames: 0,
            lstm_state: None,
            lstm_out: None,
            y_base: 0,
            y_done: 0,
            emitted: 0,
            tail: Vec::new(),
            finished: false,
            windows: 0,
            conv_in_passes: PassCounter::default(),
            upsample_passes: PassCounter::default(),
            decoder,
        }
    }

    /// Forgets everything pushed so far, ready for a new stream with the same settings.
    pub fn reset(&mut self) {
        let options = StreamOptions {
            chunk_frames: self.chunk,
            crossfade_samples: self.crossfade,
        };
        *self = Self::new(self.decoder.clone(), options);
    }

    /// The decoder.
    pub fn decoder(&self) -> &Arc<Decoder> {
        &self.decoder
    }

    /// The context the stream gives each stage (the upsampling side includes the crossfade).
    pub fn receptive_field(&self) -> ReceptiveField {
        self.field
    }

    /// Frames past the end of a chunk that must have arrived before the chunk is emitted.
    pub fn lookahead_frames(&self) -> usize {
        self.field.right_frames()
    }

    /// The design bound on how often one frame goes through a stage:
    /// `(first convolution, upsampling stack)`, each `1 + ceil(left/chunk) + ceil(right/chunk)`.
    pub fn max_passes(&self) -> (u32, u32) {
        let bound =
            |l: usize, r: usize| (1 + l.div_ceil(self.chunk) + r.div_ceil(self.chunk)) as u32;
        (
            bound(self.field.conv_in_left, self.field.conv_in_right),
            bound(self.field.upsample_left, self.field.upsample_right),
        )
    }

    /// How often frames went through each stage so far.
    pub fn stats(&self) -> StreamStats {
        StreamStats {
            frames: self.frames,
            windows: self.windows,
            upsample_max_passes: self.upsample_passes.max(),
            upsample_frame_passes: self.upsample_passes.total,
            conv_in_max_passes: self.conv_in_passes.max(),
            conv_in_frame_passes: self.conv_in_passes.total,
            lstm_steps: self.y_done as u64,
        }
    }

    /// Feeds one frame of codes (one code per codebook, in codebook order) and returns the PCM
    /// samples that are now final, possibly none. A bad frame is refused and changes nothing.
    pub fn push(&mut self, frame: &[u32]) -> Result<Vec<f32>> {
        if self.finished {
            bail!("encodec stream: push after finish (call reset to start a new stream)")
        }
        if frame.len() != self.num_codebooks {
            bail!(
                "encodec stream: a frame has {} codes, the model has {} codebooks",
                frame.len(),
                self.num_codebooks
            )
        }
        if let Some((k, code)) = frame
            .iter()
            .enumerate()
            .find(|(_, c)| **c as usize >= self.codebook_size)
        {
            bail!(
                "encodec stream: code {code} of codebook {k} at frame {} is outside 0..{}",
                self.frames,
                self.codebook_size
            )
        }
        self.codes.extend_from_slice(frame);
        self.frames += 1;

        let f = &self.field;
        let lookahead = f.conv_in_right + f.upsample_right;
        if self.frames < self.emitted + self.chunk + lookahead {
            return Ok(Vec::new());
        }
        self.advance_lstm(self.frames - f.conv_in_right)?;
        let ready = self.y_done - self.field.upsample_right - self.emitted;
        let end = self.emitted + ready / self.chunk * self.chunk;
        self.emit(end, end + self.field.upsample_right)
    }

    /// Ends the stream: decodes the frames not yet emitted, with the true end's padding, and
    /// returns their samples. Later calls return nothing until [`Self::reset`].
    pub fn finish(&mut self) -> Result<Vec<f32>> {
        if self.finished || self.frames == 0 {
            self.finished = true;
            return Ok(Vec::new());
        }
        self.finished = true;
        self.advance_lstm(self.frames)?;
        let out = self.emit(self.frames, self.frames)?;
        self.conv_in_passes.retire_below(self.frames);
        self.upsample_passes.retire_below(self.frames);
        Ok(out)
    }

    /// Runs the first convolution and the LSTM for frames `y_done..to`.
    fn advance_lstm(&mut self, to: usize) -> Result<()> {
        if to <= self.y_done {
            return Ok(());
        }
        let (left, right) = (self.field.conv_in_left, self.field.conv_in_right);
        let start = self.y_done.saturating_sub(left);
        // At `finish`, `to` is the true end; otherwise `to + right` frames have arrived.
        let end = (to + right).min(self.frames);
        debug_assert!(start >= self.codes_base);
        let k = self.num_codebooks;
        let width = end - start;
        // [1, codebooks, width] from the frame-major buffer.
        let mut grid = vec![0u32; k * width];
        for t in 0..width {
            let row = &self.codes[(start - self.codes_base + t) * k..][..k];
            for (c, &code) in row.iter().enumerate() {
                grid[c * width + t] = code;
            }
        }
        let device = self.decoder.quantizer().table_device();
        let codes = Tensor::from_vec(grid, (1, k, width), device)?;
        let latent = self.decoder.quantizer_decode(&codes)?;
        let xs = self.decoder.seanet().conv_in(&latent)?;
        let xs = xs.narrow(2, self.y_done - start, to - self.y_done)?;
        let (ys, state) = self.decoder.seanet().lstm(&xs, self.lstm_state.as_ref())?;
        self.conv_in_passes.add(start, end);
        self.lstm_state = Some(state);
        self.lstm_out = Some(match self.lstm_out.take() {
            Some(prev) => Tensor::cat(&[&prev, &ys], 2)?,
            None => ys,
        });
        self.y_done = to;
        // The next window starts `left` frames before the new `y_done`.
        let keep_from = to.saturating_sub(left).max(self.codes_base);
        self.codes.drain(..(keep_from - self.codes_base) * k);
        self.codes_base = keep_from;
        self.conv_in_passes.retire_below(keep_from);
        Ok(())
    }

    /// Runs the upsampling stack on LSTM outputs `[emitted − left, window_end)` and returns the
    /// samples of frames `emitted..end`, crossfaded with the previous tail; keeps the samples
    /// past `end` as the next tail.
    fn emit(&mut self, end: usize, window_end: usize) -> Result<Vec<f32>> {
        if end <= self.emitted {
            return Ok(Vec::new());
        }
        let Some(lstm_out) = &self.lstm_out else {
            bail!("encodec stream: no decoded frames to emit")
        };
        let start = self.emitted.saturating_sub(self.field.upsample_left);
        debug_assert!(start >= self.y_base && window_end <= self.y_done);
        let ys = lstm_out.narrow(2, start - self.y_base, window_end - start)?;
        let audio = self.decoder.seanet().upsample(&ys)?;
        let audio = audio
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        self.upsample_passes.add(start, window_end);
        self.windows += 1;

        let hop = self.hop;
        let from = (self.emitted - start) * hop;
        let to = (end - start) * hop;
        let mut out = audio[from..to].to_vec();
        let n = self.tail.len().min(out.len());
        for (i, (o, t)) in out.iter_mut().zip(&self.tail).take(n).enumerate() {
            let w = (i + 1) as f32 / (n + 1) as f32;
            *o = *t * (1.0 - w) + *o * w;
        }
        self.tail = if window_end > end {
            audio[to..(to + self.crossfade).min(audio.len())].to_vec()
        } else {
            Vec::new()
        };
        self.emitted = end;

        // Keep only the LSTM outputs the next window reads.
        let keep_from = end
            .saturating_sub(self.field.upsample_left)
            .max(self.y_base);
        let keep = self.y_done - keep_from;
        self.lstm_out = Some(
            lstm_out
                .narrow(2, keep_from - self.y_base, keep)?
                .contiguous()?,
        );
        self.y_base = keep_from;
        self.upsample_passes.retire_below(keep_from);
        Ok(out)
    }
}
