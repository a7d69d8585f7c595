//! Falcon-RW against the reference: tiny random-weight models in the published layout with the
//! real falcon-rw-1b tokenizer, expected outputs computed by transformers
//! (`models/fixtures/make_falcon_fixtures.py`, `attn_implementation="sdpa"`). Token ids must
//! match exactly, floats within 1e-4. Also: the KV cache against a full recompute, seeded
//! sampling, the paper's prompt, and refusals of bad input.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, IndexOp, Tensor};
use ekphrasis_models::Error;
use ekphrasis_models::checkpoint::CheckpointDir;
use ekphrasis_models::falcon_rw::{
    Config, FalconRw, GenerateOptions, GenerationConfig, Model, Sampling, SamplingParams, alibi,
    prompt,
};
use ekphrasis_shared::domain::Emotion;
use serde_json::Value;

use crate::common;

use common::{Fixture, copy_fixture, data_dir, max_abs, max_abs_diff};

const TOLERANCE: f32 = 1e-4;

fn fixture_dir() -> PathBuf {
    data_dir("falcon-rw-tiny")
}

impl Fixture {
    fn ids(&self, pointer: &str) -> Vec<u32> {
        serde_json::from_value(self.json.pointer(pointer).unwrap().clone()).unwrap()
    }

    fn rows(&self, pointer: &str) -> Vec<Vec<u32>> {
        serde_json::from_value(self.json.pointer(pointer).unwrap().clone()).unwrap()
    }

    fn mask(&self, pointer: &str) -> Vec<Vec<bool>> {
        self.rows(pointer)
            .into_iter()
            .map(|row| row.into_iter().map(|m| m == 1).collect())
            .collect()
    }
}

fn model() -> FalconRw {
    FalconRw::load(fixture_dir(), &Device::Cpu, DType::F32).unwrap()
}

fn greedy(max_new_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_new_tokens,
        sampling: Sampling::Greedy,
        ..GenerateOptions::default()
    }
}

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

/// A row's ids up to and including its first end-of-sequence id (transformers pads after it).
fn until_eos(row: &[u32], eos: &[u32]) -> Vec<u32> {
    match row.iter().position(|id| eos.contains(id)) {
        Some(i) => row[..=i].to_vec(),
        None => row.to_vec(),
    }
}

/// The largest difference between two (b, t, …) tensors over the positions whose mask is 1.
fn max_diff_where_real(got: &Tensor, want: &Tensor, mask: &[Vec<bool>]) -> f32 {
    let mut worst = 0f32;
    for (b, row) in mask.iter().enumerate() {
        for (t, real) in row.iter().enumerate() {
            if *real {
                let g = got.i((b, t)).unwrap();
                let w = want.i((b, t)).unwrap();
                worst = worst.max(max_abs_diff(&g, &w));
            }
        }
    }
    worst
}

fn ids_tensor(rows: &[Vec<u32>]) -> Tensor {
    let (b, t) = (rows.len(), rows[0].len());
    Tensor::from_vec(rows.concat(), (b, t), &Device::Cpu).unwrap()
}

#[test]
fn tokenizer_matches_transformers_on_the_real_vocabulary() {
    let fixture = Fixture::load(&fixture_dir());
    let falcon = model();
    for case in fixture.json["tokenizer_cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        if text.trim().is_empty() {
            assert!(matches!(falcon.tokenize(text), Err(Error::Input(_))));
            continue;
        }
        assert_eq!(falcon.tokenize(text).unwrap(), want, "{text:?}");
    }
    for case in fixture.json["decode_cases"].as_array().unwrap() {
        let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(
            falcon.decode(&ids).unwrap(),
            case["text"].as_str().unwrap(),
            "{ids:?}"
        );
    }
    assert_eq!(falcon.end_of_text_id(), Some(50256));
    assert_eq!(falcon.eos_token_ids(), [2], "generation_config.json's eos");
}

#[test]
fn the_prompt_is_the_papers_table_one() {
    let fixture = Fixture::load(&fixture_dir());
    let paper = &fixture.json["paper"];
    assert_eq!(prompt::SYSTEM_MESSAGE, paper["system_message"]);
    let built = prompt::paper_prompt(paper["caption"].as_str().unwrap()).unwrap();
    assert_eq!(built, paper["prompt"].as_str().unwrap());
}

#[test]
fn left_padded_batch_matches_transformers_where_the_mask_is_one() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let ids = fixture.rows("/batch/input_ids");
    let mask = fixture.mask("/batch/attention_mask");
    let net = falcon.model_mut();
    let hidden = net.forward(&ids_tensor(&ids), Some(&mask)).unwrap();
    let diff = max_diff_where_real(&hidden, fixture.tensor("batch_last_hidden_state"), &mask);
    assert!(diff < TOLERANCE, "final hidden states differ by {diff}");

    let logits = net.logits(&hidden).unwrap();
    let stride = fixture.json["batch"]["logit_stride"].as_u64().unwrap() as usize;
    let vocab = logits.dim(2).unwrap();
    let columns: Vec<u32> = (0..vocab).step_by(stride).map(|c| c as u32).collect();
    let columns = Tensor::new(columns.as_slice(), &Device::Cpu).unwrap();
    let strided = logits.index_select(&columns, 2).unwrap();
    let diff = max_diff_where_real(&strided, fixture.tensor("batch_logits_strided"), &mask);
    assert!(diff < TOLERANCE, "logits differ by {diff}");
    let t = logits.dim(1).unwrap();
    let last = logits.i((.., t - 1)).unwrap();
    let diff = max_abs_diff(&last, fixture.tensor("batch_logits_last"));
    assert!(diff < TOLERANCE, "last logits differ by {diff}");
}

#[test]
fn greedy_generation_matches_transformers_with_the_cache() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let prompt_ids = fixture.ids("/greedy/prompt_ids");
    let want = fixture.ids("/greedy/new_ids");
    let got = falcon
        .generate(&prompt_ids, &greedy(want.len()), &no_cancel(), |_| false)
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(
        falcon.decode(&got).unwrap(),
        fixture.json["greedy"]["text"].as_str().unwrap()
    );

    // The scores of every step through the cache: prefill, then one position at a time.
    let values = fixture.tensor("greedy_top5_values");
    let indices = fixture
        .tensor("greedy_top5_indices")
        .to_dtype(DType::U32)
        .unwrap();
    let net = falcon.model_mut();
    net.clear_kv_cache();
    let mut hidden = net.forward(&ids_tensor(&[prompt_ids]), None).unwrap();
    for (step, token) in want.iter().enumerate() {
        let t = hidden.dim(1).unwrap();
        let logits = net.logits(&hidden.i((0, t - 1)).unwrap()).unwrap();
        let picked = logits.index_select(&indices.i(step).unwrap(), 0).unwrap();
        let diff = max_abs_diff(&picked, &values.i(step).unwrap());
        assert!(diff < TOLERANCE, "step {step}: scores differ by {diff}");
        hidden = net.forward(&ids_tensor(&[vec![*token]]), None).unwrap();
    }
}

#[test]
fn generation_ends_at_an_end_of_sequence_id_and_keeps_it() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let prompt_ids = fixture.ids("/greedy/prompt_ids");
    let eos = fixture.json["greedy_eos"]["eos_token_id"].as_u64().unwrap() as u32;
    let want = fixture.ids("/greedy_eos/new_ids");
    let options = GenerateOptions {
        eos_token_ids: Some(vec![eos]),
        ..greedy(20)
    };
    let got = falcon
        .generate(&prompt_ids, &options, &no_cancel(), |_| false)
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(got.last(), Some(&eos));
}

#[test]
fn batched_generation_with_left_padding_matches_transformers() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let ids = fixture.rows("/batch/input_ids");
    let mask = fixture.mask("/batch/attention_mask");
    let prompts: Vec<Vec<u32>> = ids
        .iter()
        .zip(&mask)
        .map(|(row, m)| {
            row.iter()
                .zip(m)
                .filter(|(_, r)| **r)
                .map(|(id, _)| *id)
                .collect()
        })
        .collect();
    let want = fixture.rows("/batch_generate/new_ids");
    let options = greedy(want[0].len());
    let got = falcon
        .generate_batch(&prompts, &options, &no_cancel())
        .unwrap();
    let eos = falcon.eos_token_ids().to_vec();
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, &until_eos(want, &eos));
    }
}

#[test]
fn the_cache_equals_a_full_recompute_for_a_padded_batch() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let ids = fixture.rows("/batch/input_ids");
    let mask = fixture.mask("/batch/attention_mask");
    let extra: [[u32; 2]; 4] = [[11, 500], [7000, 13], [42, 42], [50000, 1]];
    let net = falcon.model_mut();

    // Prompt, then four single positions through the cache.
    net.clear_kv_cache();
    let mut stepped = vec![net.forward(&ids_tensor(&ids), Some(&mask)).unwrap()];
    for pair in extra {
        let step = ids_tensor(&[vec![pair[0]], vec![pair[1]]]);
        stepped.push(net.forward(&step, None).unwrap());
    }
    let stepped = Tensor::cat(&stepped, 1).unwrap();

    // Everything at once, with a fresh cache.
    let mut all_ids = ids.clone();
    let mut all_mask = mask.clone();
    for b in 0..2 {
        all_ids[b].extend(extra.iter().map(|pair| pair[b]));
        all_mask[b].extend([true; 4]);
    }
    net.clear_kv_cache();
    let full = net.forward(&ids_tensor(&all_ids), Some(&all_mask)).unwrap();
    let diff = max_diff_where_real(&stepped, &full, &all_mask);
    assert!(
        diff < 1e-5,
        "cached and full hidden states differ by {diff}"
    );
    // And a cached prompt in two chunks (several new positions after cached ones).
    net.clear_kv_cache();
    let t = all_ids[0].len();
    let split = |rows: &[Vec<u32>], from: usize, to: usize| -> Vec<Vec<u32>> {
        rows.iter().map(|r| r[from..to].to_vec()).collect()
    };
    let split_mask = |from: usize, to: usize| -> Vec<Vec<bool>> {
        all_mask.iter().map(|r| r[from..to].to_vec()).collect()
    };
    let first = net
        .forward(
            &ids_tensor(&split(&all_ids, 0, 12)),
            Some(&split_mask(0, 12)),
        )
        .unwrap();
    let second = net
        .forward(
            &ids_tensor(&split(&all_ids, 12, t)),
            Some(&split_mask(12, t)),
        )
        .unwrap();
    let chunked = Tensor::cat(&[first, second], 1).unwrap();
    let diff = max_diff_where_real(&chunked, &full, &all_mask);
    assert!(
        diff < 1e-5,
        "chunked and full hidden states differ by {diff}"
    );
}

/// The six-head model (ALiBi slopes for a head count that is not a power of two), loaded from a
/// `pytorch_model.bin` that also holds the tied `lm_head.weight`.
fn heads6() -> (Config, FalconRw) {
    let ckpt = CheckpointDir::open(fixture_dir().join("heads6")).unwrap();
    let config: Config = ckpt.read_json("config.json").unwrap();
    config.validate().unwrap();
    let generation: GenerationConfig = ckpt.read_json("generation_config.json").unwrap();
    let vb = ckpt.var_builder(DType::F32, &Device::Cpu).unwrap();
    let falcon = FalconRw::new(config.clone(), &generation, None, vb, &Device::Cpu).unwrap();
    (config, falcon)
}

#[test]
fn six_heads_from_a_pytorch_bin_match_transformers() {
    let fixture = Fixture::load(&fixture_dir());
    let (config, mut falcon) = heads6();
    assert_eq!(config.num_attention_heads, 6);
    let ids = fixture.rows("/heads6/input_ids");
    let mask = fixture.mask("/heads6/attention_mask");
    let net: &mut Model = falcon.model_mut();
    let hidden = net.forward(&ids_tensor(&ids), Some(&mask)).unwrap();
    let logits = net.logits(&hidden).unwrap();
    let diff = max_diff_where_real(&logits, fixture.tensor("heads6_logits"), &mask);
    assert!(diff < TOLERANCE, "logits differ by {diff}");

    let prompt: Vec<u32> = ids[0].clone();
    let want = fixture.ids("/heads6/greedy_new_ids");
    let got = falcon
        .generate(&prompt, &greedy(want.len()), &no_cancel(), |_| false)
        .unwrap();
    assert_eq!(got, until_eos(&want, falcon.eos_token_ids()));
}

#[test]
fn alibi_matches_transformers_for_many_head_counts() {
    let fixture = Fixture::load(&fixture_dir());
    let positions: Vec<u32> = fixture.ids("/alibi/positions");
    let heads: Vec<usize> = serde_json::from_value(fixture.json["alibi"]["heads"].clone()).unwrap();
    for count in heads {
        let want = fixture
            .tensor(&format!("alibi_heads{count}"))
            .to_vec2::<f32>()
            .unwrap();
        let slopes = alibi::slopes(count);
        assert_eq!(slopes.len(), count);
        for (h, slope) in slopes.iter().enumerate() {
            for (p, pos) in positions.iter().enumerate() {
                assert_eq!(
                    alibi::bias(*slope, *pos),
                    want[h][p],
                    "{count} heads, head {h}, position {pos}"
                );
            }
        }
    }
}

#[test]
fn the_paper_path_generates_the_reference_ids_and_cleans_them() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let caption = fixture.json["paper"]["caption"].as_str().unwrap();
    let want = fixture.ids("/greedy/new_ids");
    let description = falcon
        .describe(caption, Emotion::Sad, &greedy(want.len()), &no_cancel())
        .unwrap();
    // The reference output has no end of text and no line break: all 20 ids are generated.
    assert_eq!(description.token_ids, want);
    let raw = falcon.decode(&want).unwrap();
    match prompt::clean_description(&raw, caption) {
        Some(text) => {
            assert!(!description.fallback);
            assert_eq!(description.text, text);
        }
        None => {
            assert!(description.fallback);
            assert_eq!(
                description.text,
                prompt::fallback_description(Emotion::Sad, caption)
            );
        }
    }
    assert!(description.text.lines().count() <= 2);
}

#[test]
fn seeded_sampling_repeats_and_stays_in_the_tokenizer_vocabulary() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let prompt_ids = fixture.ids("/greedy/prompt_ids");
    let sampled = |falcon: &mut FalconRw, seed| {
        let options = GenerateOptions {
            max_new_tokens: 24,
            sampling: Sampling::Sample(SamplingParams {
                temperature: 1.5,
                top_k: 0,
                top_p: 1.0,
            }),
            seed,
            eos_token_ids: Some(vec![]),
        };
        falcon
            .generate(&prompt_ids, &options, &no_cancel(), |_| false)
            .unwrap()
    };
    let a = sampled(&mut falcon, 5);
    let b = sampled(&mut falcon, 5);
    let c = sampled(&mut falcon, 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 24);
    assert!(a.iter().chain(&c).all(|&id| id < 50257), "{a:?} {c:?}");
}

#[test]
fn cancelling_stops_before_the_next_step() {
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = model();
    let prompt_ids = fixture.ids("/greedy/prompt_ids");
    let cancel = AtomicBool::new(true);
    let err = falcon
        .generate(&prompt_ids, &greedy(5), &cancel, |_| false)
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled));
}

#[test]
fn bad_checkpoints_are_refused_with_the_file_named() {
    let load = |dir: &Path| FalconRw::load(dir, &Device::Cpu, DType::F32);
    let Err(err) = load(Path::new("/no/such/falcon")) else {
        panic!("a missing directory loaded");
    };
    assert!(err.to_string().contains("/no/such/falcon"), "{err}");

    // No tokenizer.
    let dir = copy_fixture(&fixture_dir().join("heads6"));
    let Err(err) = load(dir.path()) else {
        panic!("loaded without a tokenizer");
    };
    assert!(err.to_string().contains("tokenizer.json"), "{err}");

    // A MusicGen checkpoint given as Falcon.
    let musicgen = data_dir("musicgen-tiny");
    let Err(err) = load(&musicgen) else {
        panic!("a MusicGen checkpoint loaded as Falcon");
    };
    assert!(
        matches!(
            &err,
            Error::Unsupported {
                field: "model_type",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("config.json"), "{err}");

    // Falcon variants that are not implemented, named by field.
    for (key, value, field) in [
        ("alibi", Value::from(false), "alibi"),
        ("parallel_attn", Value::from(true), "parallel_attn"),
        (
            "new_decoder_architecture",
            Value::from(true),
            "new_decoder_architecture",
        ),
    ] {
        let dir = copy_fixture(&fixture_dir());
        let path = dir.path().join("config.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config[key] = value;
        std::fs::write(&path, config.to_string()).unwrap();
        let Err(err) = load(dir.path()) else {
            panic!("{key} was accepted");
        };
        assert!(
            matches!(&err, Error::Unsupported { field: f, .. } if *f == field),
            "{err}"
        );
    }

    // Weights of the wrong shape (the six-head weights under the four-head config).
    let dir = copy_fixture(&fixture_dir());
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    std::fs::copy(
        fixture_dir().join("heads6/pytorch_model.bin"),
        dir.path().join("pytorch_model.bin"),
    )
    .unwrap();
    let Err(err) = load(dir.path()) else {
        panic!("mismatched weights loaded");
    };
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    let mut falcon = model();
    let cancel = no_cancel();
    let mut run = |prompt: &[u32], options: &GenerateOptions| {
        falcon
            .generate(prompt, options, &cancel, |_| false)
            .unwrap_err()
            .to_string()
    };
    assert!(run(&[], &greedy(5)).contains("empty"));
    assert!(run(&[1, 2], &greedy(0)).contains("max new tokens"));
    assert!(run(&[1, 2], &greedy(1_000_000)).contains("max new tokens"));
    let long = vec![100u32; 2040];
    assert!(run(&long, &greedy(20)).contains("context"));
    assert!(run(&[60_000], &greedy(5)).contains("vocabulary"));
    let hot = GenerateOptions {
        sampling: Sampling::Sample(SamplingParams {
            temperature: -1.0,
            ..SamplingParams::DEFAULT
        }),
        ..greedy(5)
    };
    assert!(run(&[1, 2], &hot).contains("temperature"));

    let mut falcon = model();
    assert!(matches!(
        falcon.describe("  ", Emotion::Happy, &greedy(5), &no_cancel()),
        Err(Error::Input(_))
    ));
}

#[test]
fn bf16_weights_and_activations_run_and_stay_close() {
    // The dtype a GPU computes in, here on the CPU: every operation must accept it. Measured:
    // 0.17 on logits up to 12.3 (1.3%).
    let fixture = Fixture::load(&fixture_dir());
    let mut falcon = FalconRw::load(fixture_dir(), &Device::Cpu, DType::BF16).unwrap();
    let ids = fixture.rows("/batch/input_ids");
    let mask = fixture.mask("/batch/attention_mask");
    let net = falcon.model_mut();
    let hidden = net.forward(&ids_tensor(&ids), Some(&mask)).unwrap();
    let t = hidden.dim(1).unwrap();
    let last = net
        .logits(&hidden.i((.., t - 1)).unwrap())
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let want = fixture.tensor("batch_logits_last");
    let scale = max_abs(want);
    let diff = max_abs_diff(&last, want);
    assert!(
        diff < 0.05 * scale,
        "bf16 logits differ by {diff} (largest {scale})"
    );
    let prompt_ids = fixture.ids("/greedy/prompt_ids");
    let got = falcon
        .generate(&prompt_ids, &greedy(4), &no_cancel(), |_| false)
        .unwrap();
    assert_eq!(got.len(), 4);
}
