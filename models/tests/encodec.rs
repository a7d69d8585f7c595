//! EnCodec decoder tests: parity with transformers on the tiny fixture (expected outputs made by
//! `models/fixtures/make_musicgen_fixtures.py`), streaming equal to the whole decode on the tiny
//! model and on random full-size weights, the receptive field, and refusals of bad input.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use ekphrasis_models::checkpoint::CheckpointDir;
use ekphrasis_models::encodec::{Config, Decoder};
use ekphrasis_models::encodec_stream::{StreamOptions, StreamingDecoder};

use crate::common;

use common::{expected, fixture_dir, max_abs_diff};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn read_audio_encoder_config(path: &std::path::Path) -> Result<Config, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    Ok(serde_json::from_value(json["audio_encoder"].clone())?)
}

fn tiny_config() -> Config {
    read_audio_encoder_config(&fixture_dir().join("config.json")).expect("fixture config")
}

fn tiny_decoder() -> Decoder {
    let dir = CheckpointDir::open(fixture_dir()).expect("fixture dir");
    let vb = dir.var_builder(DType::F32, &Device::Cpu).expect("weights");
    Decoder::new(&tiny_config(), vb.pp("audio_encoder")).expect("decoder")
}

fn max_abs(xs: &[f32]) -> f32 {
    xs.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// A small deterministic generator (xorshift64*), so the random models are the same on every run.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[-a, a)`.
    fn uniform(&mut self, a: f32) -> f32 {
        (2.0 * self.next_f32() - 1.0) * a
    }

    fn below(&mut self, n: u32) -> u32 {
        ((self.next_f32() as f64 * n as f64) as u32).min(n - 1)
    }

    fn tensor(&mut self, shape: &[usize], f: impl Fn(&mut Self) -> f32) -> Tensor {
        let n = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| f(self)).collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    fn codes(&mut self, k: usize, t: usize, size: usize) -> Vec<Vec<u32>> {
        (0..t)
            .map(|_| (0..k).map(|_| self.below(size as u32)).collect())
            .collect()
    }
}

/// Random decoder weights for `cfg` under the published key names (weight_g/weight_v): codebooks
/// uniform with unit variance, weight-norm directions uniform with gains that keep the signal
/// level (`sqrt(stride/2)` for transposed convolutions), small biases, torch's LSTM init.
fn random_weights(cfg: &Config, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = Rng(seed | 1);
    let mut w = HashMap::new();
    let conv = |w: &mut HashMap<String, Tensor>,
                rng: &mut Rng,
                name: String,
                v_shape: [usize; 3],
                out: usize,
                gain: f32| {
        w.insert(
            format!("{name}.conv.weight_v"),
            rng.tensor(&v_shape, |r| r.uniform(1.0)),
        );
        w.insert(
            format!("{name}.conv.weight_g"),
            rng.tensor(&[v_shape[0], 1, 1], |r| gain * (1.0 + r.uniform(0.1))),
        );
        w.insert(
            format!("{name}.conv.bias"),
            rng.tensor(&[out], |r| r.uniform(0.05)),
        );
    };
    for k in 0..cfg.num_codebooks() {
        w.insert(
            format!("quantizer.layers.{k}.codebook.embed"),
            rng.tensor(&[cfg.codebook_size, cfg.codebook_dim()], |r| r.uniform(1.7)),
        );
    }
    let mut scale = cfg.lstm_dim();
    let d = "decoder.layers";
    conv(
        &mut w,
        &mut rng,
        format!("{d}.0"),
        [scale, cfg.hidden_size, cfg.kernel_size],
        scale,
        1.0,
    );
    let a = 1.0 / (scale as f32).sqrt();
    for l in 0..cfg.num_lstm_layers {
        for kind in ["ih", "hh"] {
            w.insert(
                format!("{d}.1.lstm.weight_{kind}_l{l}"),
                rng.tensor(&[4 * scale, scale], |r| r.uniform(a)),
            );
            w.insert(
                format!("{d}.1.lstm.bias_{kind}_l{l}"),
                rng.tensor(&[4 * scale], |r| r.uniform(a)),
            );
        }
    }
    let mut index = 2;
    for &ratio in &cfg.upsampling_ratios {
        let gain = (ratio as f32 / 2.0).sqrt();
        conv(
            &mut w,
            &mut rng,
            format!("{d}.{}", index + 1),
            [scale, scale / 2, 2 * ratio],
            scale / 2,
            gain,
        );
        index += 2;
        for _ in 0..cfg.num_residual_layers {
            let (dim, hidden) = (scale / 2, scale / 2 / cfg.compress);
            conv(
                &mut w,
                &mut rng,
                format!("{d}.{index}.block.1"),
                [hidden, dim, cfg.residual_kernel_size],
                hidden,
                1.0,
            );
            conv(
                &mut w,
                &mut rng,
                format!("{d}.{index}.block.3"),
                [dim, hidden, 1],
                dim,
                1.0,
            );
            index += 1;
        }
        scale /= 2;
    }
    conv(
        &mut w,
        &mut rng,
        format!("{d}.{}", index + 1),
        [1, cfg.num_filters, cfg.last_kernel_size],
        1,
        0.5,
    );
    w
}

fn full_size_decoder(seed: u64) -> Decoder {
    let cfg = Config::musicgen_small();
    let vb = VarBuilder::from_tensors(random_weights(&cfg, seed), DType::F32, &Device::Cpu);
    Decoder::new(&cfg, vb).expect("full-size decoder")
}

fn codes_tensor(frames: &[Vec<u32>]) -> Tensor {
    let (t, k) = (frames.len(), frames[0].len());
    let mut grid = vec![0u32; k * t];
    for (f, frame) in frames.iter().enumerate() {
        for (c, &code) in frame.iter().enumerate() {
            grid[c * t + f] = code;
        }
    }
    Tensor::from_vec(grid, (1, k, t), &Device::Cpu).unwrap()
}

/// Streams `frames` one by one and checks the result against the whole decode: same length,
/// max difference ≤ 1e-3 of the peak, and no frame decoded more often than the design bound.
/// Returns the max difference relative to the peak.
fn check_stream(
    decoder: &Arc<Decoder>,
    whole: &[f32],
    frames: &[Vec<u32>],
    options: StreamOptions,
) -> f32 {
    let mut stream = StreamingDecoder::new(decoder.clone(), options);
    let mut out = Vec::new();
    let mut chunks = 0;
    for frame in frames {
        let pcm = stream.push(frame).unwrap();
        if !pcm.is_empty() {
            chunks += 1;
            assert_eq!(pcm.len() % decoder.config().hop_length(), 0);
        }
        out.extend(pcm);
        // No frame is withheld longer than a chunk plus the lookahead.
        let hop = decoder.config().hop_length();
        let (pushed, emitted) = (stream.stats().frames, out.len() / hop);
        assert!(
            pushed - emitted < options.chunk_frames.max(1) + stream.lookahead_frames(),
            "{pushed} frames pushed, {emitted} emitted"
        );
    }
    out.extend(stream.finish().unwrap());
    assert!(stream.finish().unwrap().is_empty());
    assert_eq!(out.len(), whole.len(), "streamed length {options:?}");
    let rel = max_diff(&out, whole) / max_abs(whole).max(1e-12);
    assert!(
        rel <= 1e-3,
        "stream differs from whole decode by {rel} of peak with {options:?}, {} frames",
        frames.len()
    );
    let stats = stream.stats();
    let (conv_bound, up_bound) = stream.max_passes();
    assert_eq!(stats.frames, frames.len());
    assert_eq!(
        stats.lstm_steps,
        frames.len() as u64,
        "each frame goes through the LSTM once"
    );
    assert!(
        stats.upsample_max_passes <= up_bound,
        "{stats:?} bound {up_bound}"
    );
    assert!(
        stats.conv_in_max_passes <= conv_bound,
        "{stats:?} bound {conv_bound}"
    );
    assert!(stats.upsample_max_passes >= 1 && stats.conv_in_max_passes >= 1);
    let t = frames.len();
    if t > 2 * (options.chunk_frames + stream.lookahead_frames()) {
        assert!(chunks >= 2, "output came in {chunks} chunks for {t} frames");
    }
    rel
}

#[test]
fn configs_parse_and_validate() -> TestResult {
    let tiny = tiny_config();
    tiny.validate()?;
    assert_eq!(
        (tiny.hop_length(), tiny.frame_rate(), tiny.num_codebooks()),
        (640, 50, 4)
    );
    assert_eq!(
        (tiny.codebook_size, tiny.codebook_dim(), tiny.lstm_dim()),
        (64, 8, 32)
    );
    // The preset is facebook/musicgen-small's config.json as published (team real-configs).
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets/musicgen-small.json");
    let cfg = read_audio_encoder_config(&real)?;
    cfg.validate()?;
    assert_eq!(cfg.dtype.as_deref(), Some("float16"));
    assert_eq!(
        (cfg.hop_length(), cfg.frame_rate(), cfg.num_codebooks()),
        (640, 50, 4)
    );
    assert_eq!(cfg.lstm_dim(), 1024);
    // Both dtype spellings at once, and unknown fields, are accepted.
    let cfg: Config = serde_json::from_str(
        r#"{"dtype": "float32", "torch_dtype": "float32", "something_new": [1, 2],
            "use_causal_conv": false, "use_conv_shortcut": false, "sampling_rate": 32000,
            "upsampling_ratios": [8, 5, 4, 4], "target_bandwidths": [2.2], "codebook_size": 2048}"#,
    )?;
    cfg.validate()?;
    assert_eq!(cfg.num_codebooks(), 4);
    Ok(())
}

#[test]
fn decode_matches_transformers_with_intermediates() -> TestResult {
    let decoder = tiny_decoder();
    let exp = expected();
    let codes = &exp["encodec_codes"];
    assert_eq!(codes.dtype(), DType::I64);

    let latent = decoder.quantizer_decode(codes)?;
    let d_latent = max_abs_diff(&latent, &exp["encodec_quantizer_embeddings"]);
    let conv0 = decoder.seanet().conv_in(&latent)?;
    let d_conv0 = max_abs_diff(&conv0, &exp["encodec_decoder_conv0_out"]);
    let (lstm, _) = decoder.seanet().lstm(&conv0, None)?;
    let d_lstm = max_abs_diff(&lstm, &exp["encodec_decoder_lstm_out"]);
    let audio = decoder.decode(codes)?;
    assert_eq!(audio.dims(), &[1, 1, 7680]);
    assert_eq!(audio.dtype(), DType::F32);
    let d_audio = max_abs_diff(&audio, &exp["encodec_audio_values"]);
    eprintln!(
        "encodec parity max|Δ|: quantizer {d_latent:.2e}, conv0 {d_conv0:.2e}, lstm {d_lstm:.2e}, audio {d_audio:.2e} (peak {:.3})",
        max_abs(&audio.flatten_all()?.to_vec1()?)
    );
    assert!(d_latent <= 1e-5, "quantizer {d_latent}");
    assert!(d_conv0 <= 1e-4, "conv0 {d_conv0}");
    assert!(d_lstm <= 1e-4, "lstm {d_lstm}");
    assert!(d_audio <= 1e-4, "audio {d_audio}");

    // u32 codes give the same audio as i64 codes.
    let audio_u32 = decoder.decode(&codes.to_dtype(DType::U32)?)?;
    assert_eq!(max_abs_diff(&audio, &audio_u32), 0.0);
    Ok(())
}

#[test]
fn decode_matches_transformers_generate_audio() -> TestResult {
    let decoder = tiny_decoder();
    let exp = expected();
    for g in ["g1", "g3"] {
        let codes = &exp[&format!("generate_{g}_codes")];
        let want = &exp[&format!("generate_{g}_audio")];
        let audio = decoder.decode(codes)?;
        assert_eq!(audio.dims(), &[2, 1, 8320]);
        for row in 0..2 {
            let d = max_abs_diff(&audio.i(row)?, &want.i(row)?);
            eprintln!("generate_{g} row {row}: audio max|Δ| {d:.2e}");
            assert!(d <= 1e-4, "generate_{g} row {row}: {d}");
        }
        // A row decoded alone equals the batched row.
        let alone = decoder.decode(&codes.i(1..2)?)?;
        assert!(max_abs_diff(&alone, &audio.i(1..2)?) <= 1e-6);
    }
    Ok(())
}

#[test]
fn receptive_field_is_computed_and_sufficient() -> TestResult {
    let decoder = tiny_decoder();
    let rf = decoder.receptive_field();
    assert_eq!(
        (
            rf.conv_in_left,
            rf.conv_in_right,
            rf.upsample_left,
            rf.upsample_right
        ),
        (3, 3, 1, 1)
    );
    assert_eq!((rf.left_frames(), rf.right_frames()), (4, 4));
    // A crossfade tail of 2.5 ms still fits in the last frame's halo; a whole frame more does not.
    assert_eq!(decoder.receptive_field_with_extra(80).upsample_right, 1);
    assert_eq!(decoder.receptive_field_with_extra(640).upsample_right, 2);

    // The upsampling stack on a window with exactly this context reproduces the whole decode;
    // with one frame less on either side it does not.
    let mut rng = Rng(11);
    let frames = rng.codes(4, 30, 64);
    let latent = decoder.quantizer_decode(&codes_tensor(&frames))?;
    let (ys, _) = decoder
        .seanet()
        .lstm(&decoder.seanet().conv_in(&latent)?, None)?;
    let whole = decoder.seanet().upsample(&ys)?;
    let hop = 640;
    let (a, b) = (10, 20);
    let window = |l: usize, r: usize| -> Result<f32, candle_core::Error> {
        let out = decoder
            .seanet()
            .upsample(&ys.narrow(2, a - l, b - a + l + r)?)?;
        let got = out.narrow(D::Minus1, l * hop, (b - a) * hop)?;
        Ok(max_abs_diff(
            &got,
            &whole.narrow(D::Minus1, a * hop, (b - a) * hop)?,
        ))
    };
    let exact = window(rf.upsample_left, rf.upsample_right)?;
    assert!(exact <= 1e-6, "with the receptive field: {exact}");
    assert!(window(rf.upsample_left - 1, rf.upsample_right)? > 1e-4);
    assert!(window(rf.upsample_left, rf.upsample_right - 1)? > 1e-4);
    Ok(())
}

#[test]
fn stream_equals_whole_decode_tiny() -> TestResult {
    let decoder = Arc::new(tiny_decoder());
    let mut rng = Rng(2024);
    let started = Instant::now();
    let mut worst: f32 = 0.0;
    for &t in &[150usize, 1, 2, 3, 4, 5, 6, 9, 14, 15, 23, 61] {
        let frames = rng.codes(4, t, 64);
        let whole: Vec<f32> = decoder
            .decode(&codes_tensor(&frames))?
            .flatten_all()?
            .to_vec1()?;
        for options in [
            StreamOptions::default(),
            StreamOptions {
                chunk_frames: 1,
                crossfade_samples: 80,
            },
            StreamOptions {
                chunk_frames: 3,
                crossfade_samples: 0,
            },
            StreamOptions {
                chunk_frames: 7,
                crossfade_samples: 640,
            },
            StreamOptions {
                chunk_frames: 0,
                crossfade_samples: 100_000,
            },
        ] {
            worst = worst.max(check_stream(&decoder, &whole, &frames, options));
        }
    }
    // The default settings: 150 frames in 200 ms chunks.
    let frames = rng.codes(4, 150, 64);
    let whole: Vec<f32> = decoder
        .decode(&codes_tensor(&frames))?
        .flatten_all()?
        .to_vec1()?;
    let mut stream = StreamingDecoder::new(decoder.clone(), StreamOptions::default());
    let mut out = Vec::new();
    for frame in &frames {
        out.extend(stream.push(frame)?);
    }
    let before_finish = out.len();
    out.extend(stream.finish()?);
    let stats = stream.stats();
    eprintln!(
        "tiny stream: {} frames, {} windows, upsample passes max {} mean {:.2} (bound {:?}), \
         conv_in passes max {} mean {:.2}, lookahead {} frames, {} samples before finish, \
         worst rel diff over all settings {worst:.2e}, {:.1} s",
        stats.frames,
        stats.windows,
        stats.upsample_max_passes,
        stats.upsample_frame_passes as f64 / stats.frames as f64,
        stream.max_passes(),
        stats.conv_in_max_passes,
        stats.conv_in_frame_passes as f64 / stats.frames as f64,
        stream.lookahead_frames(),
        before_finish,
        started.elapsed().as_secs_f32(),
    );
    assert_eq!(stream.max_passes(), (3, 3));
    assert!(max_diff(&out, &whole) <= 1e-3 * max_abs(&whole));
    // All but the last chunk and the lookahead come out before `finish`.
    assert!(before_finish >= (150 - 10 - stream.lookahead_frames()) * 640);
    assert_eq!(stats.windows, 15);

    // After reset the stream starts over.
    stream.reset();
    let mut again = Vec::new();
    for frame in &frames {
        again.extend(stream.push(frame)?);
    }
    again.extend(stream.finish()?);
    assert_eq!(again, out);
    Ok(())
}

/// Streams `t` frames of random codes through a decoder with random full-size weights (the real
/// config: 1024-wide LSTM, 64 filters, 2048-entry codebooks) and checks it against the whole decode.
fn full_size_stream(t: usize) {
    let started = Instant::now();
    let decoder = Arc::new(full_size_decoder(7));
    let loaded = started.elapsed().as_secs_f32();
    let rf = decoder.receptive_field();
    assert_eq!(
        (
            rf.conv_in_left,
            rf.conv_in_right,
            rf.upsample_left,
            rf.upsample_right
        ),
        (3, 3, 1, 1)
    );
    let mut rng = Rng(99);
    let frames = rng.codes(4, t, 2048);
    let whole: Vec<f32> = decoder
        .decode(&codes_tensor(&frames))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let decoded = started.elapsed().as_secs_f32();
    assert!(whole.iter().all(|x| x.is_finite()));
    let peak = max_abs(&whole);
    assert!(peak > 1e-3, "random full-size model gives silence ({peak})");
    let rel = check_stream(&decoder, &whole, &frames, StreamOptions::default());
    eprintln!(
        "full-size random stream: {t} frames, peak {peak:.3}, rel diff {rel:.2e}; \
         weights {loaded:.1} s, whole decode {:.1} s, stream {:.1} s",
        decoded - loaded,
        started.elapsed().as_secs_f32() - decoded
    );
}

/// 0.8 s of audio: three 200 ms chunks and the tail, about 20 s in a debug build.
#[test]
fn stream_equals_whole_decode_full_size_random() {
    full_size_stream(40);
}

/// 3 s of audio (150 frames), about 80 s in a debug build.
#[test]
#[ignore = "slow in a debug build; run with --ignored (--release: a few seconds)"]
fn stream_equals_whole_decode_full_size_random_3s() {
    full_size_stream(150);
}

/// Measures how fast the LSTM forgets its start: decodes windows that start `left` frames before
/// a chunk from a zero LSTM state (what a stream without carried state would do) and compares the
/// chunk with the whole decode. Informative; the stream itself carries the state and is exact.
fn lstm_decay(
    decoder: &Decoder,
    label: &str,
    frames: usize,
    chunk: usize,
    lefts: &[usize],
) -> Vec<f32> {
    let mut rng = Rng(5);
    let k = decoder.config().num_codebooks();
    let codes = rng.codes(k, frames, decoder.config().codebook_size);
    let whole = decoder.decode(&codes_tensor(&codes)).unwrap();
    let peak = max_abs(&whole.flatten_all().unwrap().to_vec1().unwrap());
    let hop = decoder.config().hop_length();
    let a = frames - chunk - decoder.receptive_field().right_frames();
    let mut out = Vec::new();
    for &left in lefts {
        let window = codes_tensor(&codes[a - left..]);
        let audio = decoder.decode(&window).unwrap();
        let got = audio.narrow(D::Minus1, left * hop, chunk * hop).unwrap();
        let want = whole.narrow(D::Minus1, a * hop, chunk * hop).unwrap();
        out.push(max_abs_diff(&got, &want) / peak);
    }
    let table: Vec<String> = lefts
        .iter()
        .zip(&out)
        .map(|(l, e)| format!("{l}: {e:.1e}"))
        .collect();
    eprintln!(
        "{label}: LSTM zero-state error / peak by left context in frames: {}",
        table.join(", ")
    );
    out
}

#[test]
fn lstm_state_decay_tiny() {
    let decoder = tiny_decoder();
    let errs = lstm_decay(&decoder, "tiny", 80, 10, &[4, 5, 8, 12, 20, 40, 60]);
    assert!(errs.iter().all(|e| e.is_finite()));
}

#[test]
#[ignore = "slow in a debug build: a measurement for the streaming design, run with --ignored --release"]
fn lstm_state_decay_full_size_random() {
    let decoder = full_size_decoder(7);
    lstm_decay(
        &decoder,
        "full-size random",
        80,
        10,
        &[4, 5, 8, 12, 20, 40, 60],
    );
}

#[test]
fn bad_inputs_are_clear_errors() -> TestResult {
    let decoder = tiny_decoder();
    let err = |r: candle_core::Result<Tensor>| r.expect_err("must fail").to_string();
    let ok = Tensor::zeros((1, 4, 5), DType::U32, &Device::Cpu)?;
    decoder.decode(&ok)?;

    let mut codes = vec![0i64; 20];
    codes[7] = 64;
    let e = err(decoder.decode(&Tensor::from_vec(codes.clone(), (1, 4, 5), &Device::Cpu)?));
    assert!(
        e.contains("64") && e.contains("outside 0..64") && e.contains("codebook 1"),
        "{e}"
    );
    codes[7] = -1;
    let e = err(decoder.decode(&Tensor::from_vec(codes, (1, 4, 5), &Device::Cpu)?));
    assert!(e.contains("-1") && e.contains("outside"), "{e}");
    let e = err(decoder.decode(&Tensor::zeros((1, 3, 5), DType::U32, &Device::Cpu)?));
    assert!(e.contains("3 codebooks") && e.contains("has 4"), "{e}");
    let e = err(decoder.decode(&Tensor::zeros((1, 4, 0), DType::U32, &Device::Cpu)?));
    assert!(e.contains("empty"), "{e}");
    let e = err(decoder.decode(&Tensor::zeros((4, 5), DType::U32, &Device::Cpu)?));
    assert!(e.contains("(batch, codebooks, frames)"), "{e}");
    let e = err(decoder.decode(&Tensor::zeros((1, 4, 5), DType::F32, &Device::Cpu)?));
    assert!(e.contains("integers"), "{e}");

    let decoder = Arc::new(decoder);
    let mut stream = StreamingDecoder::new(decoder.clone(), StreamOptions::default());
    assert!(
        stream.finish()?.is_empty(),
        "an empty stream finishes with no samples"
    );
    stream.reset();
    let e = stream.push(&[1, 2, 3]).unwrap_err().to_string();
    assert!(e.contains("3 codes") && e.contains("4 codebooks"), "{e}");
    let e = stream.push(&[]).unwrap_err().to_string();
    assert!(e.contains("0 codes"), "{e}");
    let e = stream.push(&[1, 2, 64, 3]).unwrap_err().to_string();
    assert!(e.contains("code 64 of codebook 2"), "{e}");
    assert_eq!(stream.stats().frames, 0, "refused frames change nothing");
    stream.push(&[1, 2, 3, 4])?;
    assert_eq!(stream.finish()?.len(), 640);
    let e = stream.push(&[1, 2, 3, 4]).unwrap_err().to_string();
    assert!(e.contains("after finish"), "{e}");

    // Unsupported configs are refused by validate() and by Decoder::new.
    let base = tiny_config();
    let cases: Vec<(Config, &str)> = vec![
        (
            Config {
                use_causal_conv: true,
                ..base.clone()
            },
            "use_causal_conv",
        ),
        (
            Config {
                norm_type: "time_group_norm".into(),
                ..base.clone()
            },
            "time_group_norm",
        ),
        (
            Config {
                use_conv_shortcut: true,
                ..base.clone()
            },
            "use_conv_shortcut",
        ),
        (
            Config {
                normalize: true,
                ..base.clone()
            },
            "normalize",
        ),
        (
            Config {
                pad_mode: "constant".into(),
                ..base.clone()
            },
            "pad_mode",
        ),
        (
            Config {
                chunk_length_s: Some(1.0),
                ..base.clone()
            },
            "chunk_length_s",
        ),
        (
            Config {
                audio_channels: 2,
                ..base.clone()
            },
            "audio_channels",
        ),
        (
            Config {
                codebook_size: 60,
                ..base.clone()
            },
            "power of two",
        ),
        (
            Config {
                upsampling_ratios: vec![],
                ..base.clone()
            },
            "upsampling_ratios",
        ),
        (
            Config {
                target_bandwidths: vec![0.1],
                ..base.clone()
            },
            "no codebook",
        ),
    ];
    let dir = CheckpointDir::open(fixture_dir())?;
    let vb = dir.var_builder(DType::F32, &Device::Cpu)?;
    for (cfg, needle) in cases {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(needle), "{needle}: {e}");
        let e = Decoder::new(&cfg, vb.pp("audio_encoder"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{needle}: {e}");
    }
    // A config missing the non-causal settings gets transformers' defaults and is refused.
    let cfg: Config = serde_json::from_str("{}")?;
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("use_causal_conv")
    );

    // Weights that do not fit: a missing tensor or the wrong prefix is an error, not a panic.
    let empty = VarBuilder::from_tensors(HashMap::new(), DType::F32, &Device::Cpu);
    assert!(Decoder::new(&base, empty).is_err());
    assert!(
        Decoder::new(&base, vb.clone()).is_err(),
        "the vb must be at `audio_encoder`"
    );
    let big = Config {
        num_filters: 4,
        ..base
    };
    assert!(
        Decoder::new(&big, vb.pp("audio_encoder")).is_err(),
        "shape mismatch"
    );
    Ok(())
}
