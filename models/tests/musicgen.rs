//! MusicGen against the reference: a tiny random-weight model in the published layout, with
//! expected outputs computed by transformers (`models/fixtures/make_musicgen_fixtures.py`).

use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, IndexOp, Tensor};
use ekphrasis_models::Error;
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Quantization, Sampling, Window};
use serde_json::Value;

use crate::common;

use common::{Fixture, data_dir, fixture_dir, max_abs, max_abs_diff};

impl Fixture {
    fn prompts(&self) -> Vec<String> {
        serde_json::from_value(self.json["prompts"].clone()).unwrap()
    }

    /// The number of real (unpadded) tokens of prompt `b`.
    fn prompt_len(&self, b: usize) -> usize {
        let mask: Vec<Vec<i64>> =
            serde_json::from_value(self.json["attention_mask"].clone()).unwrap();
        mask[b].iter().filter(|m| **m == 1).count()
    }
}

fn model() -> MusicGen {
    MusicGen::load(fixture_dir(), &Device::Cpu, DType::F32).unwrap()
}

fn codes_of(tensor: &Tensor) -> Vec<Vec<u32>> {
    tensor
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap()
}

#[test]
fn tokenizer_matches_transformers_on_tiny_and_real_vocabularies() {
    let fixture = Fixture::load(&fixture_dir());
    let musicgen = model();
    for case in fixture.json["tokenizer_cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        if text.trim().is_empty() {
            assert!(matches!(musicgen.tokenize(text), Err(Error::Input(_))));
            continue;
        }
        assert_eq!(musicgen.tokenize(text).unwrap(), want, "{text:?}");
    }
    let real_path = data_dir("real-configs").join("musicgen-small-tokenizer.json");
    let real = tokenizers::Tokenizer::from_file(real_path).unwrap();
    for case in fixture.json["real_tokenizer"]["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(real.encode(text, true).unwrap().get_ids(), want, "{text:?}");
    }
}

#[test]
fn text_encoder_and_projection_match_where_the_mask_is_one() {
    let fixture = Fixture::load(&fixture_dir());
    let mut musicgen = model();
    for (b, prompt) in fixture.prompts().iter().enumerate() {
        let len = fixture.prompt_len(b);
        let states = musicgen.text_states(prompt).unwrap().squeeze(0).unwrap();
        let want = fixture
            .tensor("text_encoder_last_hidden_state")
            .i((b, ..len))
            .unwrap();
        let diff = max_abs_diff(&states, &want);
        assert!(diff < 1e-4, "T5 states of prompt {b}: {diff}");

        let memory = musicgen.memory(prompt).unwrap().squeeze(0).unwrap();
        let want = fixture
            .tensor("encoder_hidden_states_projected")
            .i((b, ..len))
            .unwrap();
        let diff = max_abs_diff(&memory, &want);
        assert!(diff < 1e-4, "projected states of prompt {b}: {diff}");
    }
}

#[test]
fn decoder_logits_match_for_both_branches() {
    let fixture = Fixture::load(&fixture_dir());
    let mut musicgen = model();
    let ids = fixture
        .tensor("logits_decoder_input_ids")
        .to_dtype(DType::U32)
        .unwrap();
    for (b, prompt) in fixture.prompts().iter().enumerate() {
        let rows = ids.narrow(0, b * 4, 4).unwrap().unsqueeze(0).unwrap();
        let logits = musicgen.logits(prompt, &rows).unwrap().squeeze(0).unwrap();
        let want = fixture
            .tensor("logits_conditional")
            .narrow(0, b * 4, 4)
            .unwrap();
        let diff = max_abs_diff(&logits, &want);
        assert!(diff < 1e-4, "conditional logits of prompt {b}: {diff}");

        let memory = musicgen.memory(prompt).unwrap();
        let logits = musicgen
            .logits_for_memory(&memory.zeros_like().unwrap(), &rows)
            .unwrap()
            .squeeze(0)
            .unwrap();
        let want = fixture
            .tensor("logits_unconditional")
            .narrow(0, b * 4, 4)
            .unwrap();
        let diff = max_abs_diff(&logits, &want);
        assert!(diff < 1e-4, "unconditional logits of prompt {b}: {diff}");
    }
}

fn greedy_codes_match(guidance: f64, name: &str) {
    let fixture = Fixture::load(&fixture_dir());
    let mut musicgen = model();
    let expected_codes = fixture.tensor(&format!("{name}_codes"));
    let expected_audio = fixture.tensor(&format!("{name}_audio"));
    let frames = expected_codes.dim(2).unwrap();
    let options = GenerateOptions {
        frames,
        guidance,
        sampling: Sampling::Greedy,
        seed: 0,
        ..GenerateOptions::default()
    };
    for (b, prompt) in fixture.prompts().iter().enumerate() {
        let mut streamed = Vec::new();
        let codes = musicgen
            .generate(prompt, &options, &AtomicBool::new(false), |f, frame| {
                streamed.push((f, frame.to_vec()))
            })
            .unwrap();
        let want = codes_of(&expected_codes.i(b).unwrap());
        assert_eq!(codes, want, "{name}, prompt {b}");
        // Frames arrive in order, each with one code per codebook.
        assert_eq!(streamed.len(), frames);
        for (i, (f, frame)) in streamed.iter().enumerate() {
            assert_eq!(*f, i);
            let column: Vec<u32> = want.iter().map(|row| row[i]).collect();
            assert_eq!(*frame, column);
        }
        let codes = Tensor::new(codes, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let audio = musicgen.audio_decoder().decode(&codes).unwrap();
        let want = expected_audio.i(b).unwrap().unsqueeze(0).unwrap();
        let diff = max_abs_diff(&audio, &want);
        assert!(diff < 1e-4, "{name} audio of prompt {b}: {diff}");
    }
}

#[test]
fn greedy_generation_without_guidance_matches() {
    greedy_codes_match(1.0, "generate_g1");
}

#[test]
fn greedy_generation_with_guidance_3_matches() {
    greedy_codes_match(3.0, "generate_g3");
}

#[test]
fn sampling_is_repeatable_by_seed_and_varies_across_seeds() {
    let mut musicgen = model();
    let run = |musicgen: &mut MusicGen, seed| {
        let options = GenerateOptions {
            frames: 20,
            guidance: 3.0,
            sampling: Sampling::TopK {
                top_k: 250,
                temperature: 1.0,
            },
            seed,
            ..GenerateOptions::default()
        };
        musicgen
            .generate(
                "slow dark music",
                &options,
                &AtomicBool::new(false),
                |_, _| {},
            )
            .unwrap()
    };
    let a = run(&mut musicgen, 1);
    assert_eq!(a, run(&mut musicgen, 1));
    assert_ne!(a, run(&mut musicgen, 2));
    assert!(
        a.iter()
            .all(|row| row.len() == 20 && row.iter().all(|&c| c < 64))
    );
}

#[test]
fn bad_requests_are_clear_errors() {
    let mut musicgen = model();
    let cancel = AtomicBool::new(false);
    let mut options = GenerateOptions {
        frames: 5,
        guidance: 3.0,
        sampling: Sampling::Greedy,
        seed: 0,
        ..GenerateOptions::default()
    };
    let err = musicgen
        .generate("  ", &options, &cancel, |_, _| {})
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    options.frames = 0;
    let err = musicgen
        .generate("music", &options, &cancel, |_, _| {})
        .unwrap_err();
    assert!(err.to_string().starts_with("frames"), "{err}");
    options.frames = 120 * 50 + 1;
    assert!(
        musicgen
            .generate("music", &options, &cancel, |_, _| {})
            .is_err()
    );
    options.frames = 5;
    options.guidance = 0.5;
    let err = musicgen
        .generate("music", &options, &cancel, |_, _| {})
        .unwrap_err();
    assert!(err.to_string().starts_with("guidance"), "{err}");
    options.guidance = 1.0;
    let cancelled = AtomicBool::new(true);
    assert!(matches!(
        musicgen.generate("music", &options, &cancelled, |_, _| {}),
        Err(Error::Cancelled)
    ));
}

#[test]
fn missing_and_foreign_checkpoints_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = MusicGen::load(dir.path().join("absent"), &Device::Cpu, DType::F32)
        .err()
        .unwrap();
    assert!(err.to_string().contains("absent"), "{err}");

    // Each required file removed in turn, or replaced by something foreign.
    let files = ["config.json", "tokenizer.json", "model.safetensors"];
    for missing in files {
        let copy = dir.path().join(format!("without-{missing}"));
        std::fs::create_dir_all(&copy).unwrap();
        for file in files.iter().filter(|f| **f != missing) {
            std::fs::copy(fixture_dir().join(file), copy.join(file)).unwrap();
        }
        let err = MusicGen::load(&copy, &Device::Cpu, DType::F32)
            .err()
            .unwrap();
        let shown = err.to_string();
        let named = shown.contains(missing)
            || (missing == "model.safetensors" && shown.contains("weights"));
        assert!(named, "{missing}: {shown}");

        std::fs::write(copy.join(missing), b"{\"not\": \"what you expect\"}").unwrap();
        let err = MusicGen::load(&copy, &Device::Cpu, DType::F32)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains(missing),
            "foreign {missing}: {err}"
        );
    }
}

#[test]
fn an_unsupported_config_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["tokenizer.json", "model.safetensors"] {
        std::fs::copy(fixture_dir().join(file), dir.path().join(file)).unwrap();
    }
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("config.json")).unwrap())
            .unwrap();
    config["decoder"]["audio_channels"] = 2.into();
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let err = MusicGen::load(dir.path(), &Device::Cpu, DType::F32)
        .err()
        .unwrap();
    let shown = err.to_string();
    assert!(
        shown.contains("config.json") && shown.contains("audio_channels"),
        "{shown}"
    );
}

#[test]
fn windowed_continuation_extends_the_first_window_and_streams_every_frame() {
    let mut musicgen = model();
    let cancel = AtomicBool::new(false);
    let prompt = "happy piano melody with a bright beat.";
    let greedy = |frames, window| GenerateOptions {
        frames,
        guidance: 3.0,
        sampling: Sampling::Greedy,
        seed: 0,
        window,
    };
    let window = Window {
        max_frames: 20,
        stride_frames: 5,
    };
    // One window, as long as the first window of the long run.
    let first = musicgen
        .generate(prompt, &greedy(20, Window::default()), &cancel, |_, _| {})
        .unwrap();
    let mut streamed: Vec<(usize, Vec<u32>)> = Vec::new();
    let long = musicgen
        .generate(prompt, &greedy(32, window), &cancel, |f, frame| {
            streamed.push((f, frame.to_vec()))
        })
        .unwrap();
    assert!(long.iter().all(|row| row.len() == 32));
    for k in 0..4 {
        assert_eq!(
            long[k][..20],
            first[k][..],
            "the first window, codebook {k}"
        );
    }
    assert_eq!(streamed.len(), 32);
    for (i, (f, frame)) in streamed.iter().enumerate() {
        assert_eq!(*f, i, "frames stream in order across windows");
        let column: Vec<u32> = long.iter().map(|row| row[i]).collect();
        assert_eq!(*frame, column);
    }
    // The second window is the first window's last 15 frames continued by 5.
    let prompt_codes: Vec<Vec<u32>> = first.iter().map(|row| row[5..20].to_vec()).collect();
    let second = musicgen
        .continue_codes(
            prompt,
            &prompt_codes,
            20,
            &greedy(20, window),
            &cancel,
            |_, _| {},
        )
        .unwrap();
    for k in 0..4 {
        assert_eq!(second[k][..15], prompt_codes[k][..], "the prompt is kept");
        assert_eq!(long[k][20..25], second[k][15..], "codebook {k}");
    }
    // A window covering everything is plain generation.
    let whole = musicgen
        .generate(
            prompt,
            &greedy(
                20,
                Window {
                    max_frames: 40,
                    stride_frames: 10,
                },
            ),
            &cancel,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(whole, first);
}

#[test]
fn continuation_from_a_code_prompt_matches_transformers() {
    let fixture = Fixture::load(&fixture_dir());
    let mut musicgen = model();
    let prompt_codes = codes_of(&fixture.tensor("continuation_prompt_codes").i(0).unwrap());
    let want = codes_of(&fixture.tensor("continuation_codes").i(0).unwrap());
    let frames = want[0].len();
    let options = GenerateOptions {
        guidance: 3.0,
        sampling: Sampling::Greedy,
        ..GenerateOptions::default()
    };
    let mut new_frames = Vec::new();
    let codes = musicgen
        .continue_codes(
            &fixture.prompts()[0],
            &prompt_codes,
            frames,
            &options,
            &AtomicBool::new(false),
            |f, _| new_frames.push(f),
        )
        .unwrap();
    assert_eq!(codes, want);
    assert_eq!(
        new_frames,
        (prompt_codes[0].len()..frames).collect::<Vec<_>>()
    );
    let audio = musicgen.decode(&codes).unwrap();
    let audio = Tensor::new(audio, &Device::Cpu).unwrap();
    let expected = fixture.tensor("continuation_audio").flatten_all().unwrap();
    let diff = max_abs_diff(&audio, &expected);
    assert!(diff < 1e-4, "continuation audio: {diff}");
}

#[test]
fn a_q8_0_decoder_stays_close_to_f32_and_q4k_refuses_small_matrices() {
    let fixture = Fixture::load(&fixture_dir());
    let prompt = &fixture.prompts()[0];
    let ids = fixture
        .tensor("logits_decoder_input_ids")
        .to_dtype(DType::U32)
        .unwrap()
        .narrow(0, 0, 4)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let mut dense = model();
    let reference = dense.logits(prompt, &ids).unwrap();
    let mut quantized = model();
    quantized.quantize_decoder(Quantization::Q8_0).unwrap();
    let logits = quantized.logits(prompt, &ids).unwrap();
    let spread = max_abs(&reference);
    let diff = max_abs_diff(&logits, &reference);
    assert!(diff > 0.0, "the weights really are quantized");
    assert!(diff < 0.05 * spread, "q8_0 logits drift {diff} of {spread}");

    let mut q4 = model();
    let err = q4.quantize_decoder(Quantization::Q4K).unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn teacher_forced_scores_match_the_scores_generate_chose_from() {
    let fixture = Fixture::load(&fixture_dir());
    let mut musicgen = model();
    for (name, guidance) in [("generate_g1", 1.0), ("generate_g3", 3.0)] {
        let scores = fixture.tensor(&format!("{name}_scores")); // [step, b*4+k, vocab]
        for (b, prompt) in fixture.prompts().iter().enumerate() {
            let codes = codes_of(&fixture.tensor(&format!("{name}_codes")).i(b).unwrap());
            let ids = musicgen.tokenize(prompt).unwrap();
            let ours = musicgen.scores_for(&ids, &codes, guidance).unwrap();
            for (f, per_codebook) in ours.iter().enumerate() {
                for (k, row) in per_codebook.iter().enumerate() {
                    let want = scores.i((k + f, b * 4 + k)).unwrap();
                    let row = Tensor::new(row.as_slice(), &Device::Cpu).unwrap();
                    let diff = max_abs_diff(&row, &want);
                    assert!(
                        diff < 1e-3,
                        "{name} prompt {b} frame {f} codebook {k}: {diff}"
                    );
                }
            }
        }
    }
}
