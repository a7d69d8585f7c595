//! MusicGen fine-tuning against transformers on the tiny fixture (expected outputs made by
//! `models/fixtures/make_musicgen_train_fixtures.py`): the delay-pattern labels, the loss of a
//! batch with padded and dropped texts equal to transformers' `labels=` loss, and the gradient of
//! every trainable tensor equal to PyTorch's, none of them zero.

use std::collections::BTreeSet;

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::musicgen::finetune::{
    Freeze, TrainableMusicGen, codebook_cross_entropy, decoder_inputs, delay_labels,
};

use crate::common;

use common::{Fixture, data_dir, fixture_dir, max_abs, max_abs_diff};

fn fixture() -> Fixture {
    Fixture::load(&data_dir("musicgen-train"))
}

fn codes_of(fixture: &Fixture) -> Vec<Vec<Vec<u32>>> {
    fixture
        .tensor("codes")
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec3()
        .unwrap()
}

/// The loss of the fixture's batch, and the model it was computed with.
fn loss_of(freeze: Freeze) -> (TrainableMusicGen, Tensor) {
    let fixture = fixture();
    let mut model = TrainableMusicGen::load(&fixture_dir(), freeze, &Device::Cpu).unwrap();
    // The fixture was made with dropout 0; the tiny config says 0.1.
    model.set_training(false);
    let pad = model.config().pad_token_id();
    let labels = delay_labels(&codes_of(&fixture), pad, &Device::Cpu).unwrap();
    let inputs = decoder_inputs(&labels, model.config().decoder_start_token_id()).unwrap();
    let logits = model
        .forward(
            fixture.tensor("encoder_hidden_states"),
            fixture.tensor("attention_mask"),
            &inputs,
        )
        .unwrap();
    let loss = codebook_cross_entropy(&logits, &labels, pad).unwrap();
    (model, loss)
}

#[test]
fn labels_follow_the_delay_pattern_as_transformers_reads_them() {
    let fixture = fixture();
    let labels = delay_labels(&codes_of(&fixture), 64, &Device::Cpu).unwrap();
    let want = fixture.tensor("labels").to_dtype(DType::U32).unwrap();
    assert_eq!(
        labels.to_vec3::<u32>().unwrap(),
        want.to_vec3::<u32>().unwrap()
    );
}

#[test]
fn the_loss_and_every_gradient_match_transformers() {
    let fixture = fixture();
    let (model, loss) = loss_of(Freeze::default());
    let got = loss.to_scalar::<f32>().unwrap();
    let want = fixture.json["loss"].as_f64().unwrap() as f32;
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "loss {got} against transformers' {want}"
    );
    let grads = loss.backward().unwrap();
    let names: BTreeSet<&str> = model.trainable().iter().map(|(n, _)| n.as_str()).collect();
    let want_names: BTreeSet<&str> = fixture.json["trainable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, want_names, "what trains");
    for (name, var) in model.trainable() {
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name} has no gradient"));
        assert!(max_abs(grad) > 0.0, "{name}: the gradient is zero");
        let want = fixture.tensor(&format!("grad.{name}"));
        let diff = max_abs_diff(grad, want);
        assert!(
            diff <= 1e-4 * max_abs(want),
            "{name}: gradient differs by {diff} (largest {})",
            max_abs(want)
        );
    }
}

#[test]
fn frozen_layers_and_embeddings_do_not_train() {
    let (model, loss) = loss_of(Freeze { layers: 1 });
    let names: Vec<&str> = model.trainable().iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().all(|n| !n.contains("embed_tokens")),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.contains("layers.0.")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("layers.1.")), "{names:?}");
    assert!(names.contains(&"enc_to_dec_proj.weight"));
    let grads = loss.backward().unwrap();
    for (name, var) in model.trainable() {
        assert!(grads.get(var.as_tensor()).is_some(), "{name}");
    }
    let err = TrainableMusicGen::load(&fixture_dir(), Freeze { layers: 3 }, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot freeze 3 layers"), "{err}");
}

#[test]
fn schedules_equal_transformers_get_scheduler() {
    use ekphrasis_models::musicgen::finetune::{Schedule, ScheduleKind};
    let fixture = fixture();
    for case in fixture.json["schedules"].as_array().unwrap() {
        let kind: ScheduleKind = case["name"].as_str().unwrap().parse().unwrap();
        let schedule = Schedule {
            kind,
            warmup_steps: case["warmup"].as_u64().unwrap() as usize,
            total_steps: case["total"].as_u64().unwrap() as usize,
        };
        for (step, want) in case["lr"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            let got = schedule.factor(step);
            assert!(
                (got - want).abs() < 1e-12,
                "{case:?} step {step}: {got} against {want}"
            );
        }
    }
}

#[test]
fn adamw_steps_with_warmup_clipping_and_frozen_layers_match_pytorch() {
    use ekphrasis_models::musicgen::finetune::{
        Batch, Schedule, ScheduleKind, StepSettings, Trainer,
    };
    let fixture = fixture();
    let s = &fixture.json["step_settings"];
    let f = |key: &str| s[key].as_f64().unwrap();
    let freeze = Freeze {
        layers: s["freeze_layers"].as_u64().unwrap() as usize,
    };
    let mut model = TrainableMusicGen::load(&fixture_dir(), freeze, &Device::Cpu).unwrap();
    model.set_training(false);
    let settings = StepSettings {
        lr: f("lr"),
        beta1: s["betas"][0].as_f64().unwrap(),
        beta2: s["betas"][1].as_f64().unwrap(),
        eps: f("eps"),
        weight_decay: f("weight_decay"),
        schedule: Schedule {
            kind: s["schedule"]
                .as_str()
                .unwrap()
                .parse::<ScheduleKind>()
                .unwrap(),
            warmup_steps: s["warmup_steps"].as_u64().unwrap() as usize,
            total_steps: s["total_steps"].as_u64().unwrap() as usize,
        },
        clip_grad: f("clip_grad"),
    };
    let mut trainer = Trainer::new(&model, settings).unwrap();
    let pad = model.config().pad_token_id();
    let labels = delay_labels(&codes_of(&fixture), pad, &Device::Cpu).unwrap();
    let inputs = decoder_inputs(&labels, model.config().decoder_start_token_id()).unwrap();
    let rows_of = |rows: &[u32]| {
        let idx = Tensor::new(rows, &Device::Cpu).unwrap();
        Batch {
            states: fixture
                .tensor("encoder_hidden_states")
                .index_select(&idx, 0)
                .unwrap(),
            mask: fixture
                .tensor("attention_mask")
                .index_select(&idx, 0)
                .unwrap(),
            inputs: inputs.index_select(&idx, 0).unwrap(),
            labels: labels.index_select(&idx, 0).unwrap(),
        }
    };
    let batches: Vec<Batch> = fixture.json["step_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rows| {
            let rows: Vec<u32> = rows
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_u64().unwrap() as u32)
                .collect();
            rows_of(&rows)
        })
        .collect();
    let want = &fixture.json["steps"];
    for k in 0..want["loss"].as_array().unwrap().len() {
        let report = trainer
            .step(&model, std::slice::from_ref(&batches[k % batches.len()]))
            .unwrap();
        let loss = want["loss"][k].as_f64().unwrap();
        let lr = want["lr"][k].as_f64().unwrap();
        let norm = want["grad_norm"][k].as_f64().unwrap();
        assert!(
            (report.loss - loss).abs() <= 1e-5 * loss,
            "step {k}: loss {} against {loss}",
            report.loss
        );
        assert!(
            (report.lr - lr).abs() <= 1e-12,
            "step {k}: lr {} against {lr}",
            report.lr
        );
        assert!(
            (report.grad_norm - norm).abs() <= 1e-4 * norm,
            "step {k}: norm {} against {norm}",
            report.grad_norm
        );
    }
    for (name, var) in model.trainable() {
        let want = fixture.tensor(&format!("after_steps.{name}"));
        let diff = max_abs_diff(var.as_tensor(), want);
        assert!(
            diff <= 1e-5 * max_abs(want).max(1.0),
            "{name}: differs by {diff} after the steps"
        );
    }
}

#[test]
fn recomputing_layer_by_layer_gives_the_whole_graphs_loss_and_gradients() {
    use ekphrasis_models::musicgen::finetune::Batch;
    use ekphrasis_models::musicgen::finetune::grads::batch_grads;
    let fixture = fixture();
    for freeze in [Freeze::default(), Freeze { layers: 1 }] {
        let run = |recompute: bool| {
            let mut model = TrainableMusicGen::load(&fixture_dir(), freeze, &Device::Cpu).unwrap();
            // Dropout on (the tiny config's 0.1), the same seed for both.
            model.set_training(true);
            model.seed_dropout(7).unwrap();
            model.set_recompute(recompute);
            let pad = model.config().pad_token_id();
            let labels = delay_labels(&codes_of(&fixture), pad, &Device::Cpu).unwrap();
            let batch = Batch {
                states: fixture.tensor("encoder_hidden_states").clone(),
                mask: fixture.tensor("attention_mask").clone(),
                inputs: decoder_inputs(&labels, model.config().decoder_start_token_id()).unwrap(),
                labels,
            };
            let (loss, grads) = batch_grads(&model, &batch, 0.5).unwrap();
            let grads: Vec<(String, Tensor)> = model
                .trainable()
                .iter()
                .map(|(name, var)| (name.clone(), grads.get(var.as_tensor()).unwrap().clone()))
                .collect();
            (loss, grads)
        };
        let (whole_loss, whole) = run(false);
        let (layered_loss, layered) = run(true);
        assert!(
            (whole_loss - layered_loss).abs() < 1e-6 * whole_loss,
            "{whole_loss} {layered_loss}"
        );
        assert_eq!(whole.len(), layered.len());
        for ((name, a), (_, b)) in whole.iter().zip(&layered) {
            let diff = max_abs_diff(a, b);
            assert!(
                diff <= 1e-5 * max_abs(a).max(1e-6),
                "{name} ({freeze:?}): {diff}"
            );
            assert!(max_abs(b) > 0.0, "{name}: zero gradient");
        }
    }
}

#[test]
fn a_run_stopped_after_an_epoch_resumes_to_the_same_end() {
    use ekphrasis_models::musicgen::finetune::{
        BatchPlan, Example, FitData, FitHooks, FitOptions, FitProgress, Schedule, ScheduleKind,
        StepSettings, Trainer, fit, resume,
    };

    struct Hooks {
        keep: Option<std::path::PathBuf>,
        stop_after: Option<usize>,
    }
    impl FitHooks for Hooks {
        fn event(&mut self, _: &ekphrasis_models::musicgen::finetune::FitEvent) {}
        fn epoch_end(
            &mut self,
            model: &TrainableMusicGen,
            trainer: &Trainer,
            progress: &FitProgress,
        ) -> candle_core::Result<()> {
            if let Some(dir) = &self.keep {
                resume::save(dir, model, trainer, progress)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            }
            if self.stop_after == Some(progress.epochs.len()) {
                candle_core::bail!("stopped here");
            }
            Ok(())
        }
    }

    let fixture = fixture();
    let states = fixture.tensor("encoder_hidden_states");
    let mask = fixture.tensor("attention_mask").to_vec2::<i64>().unwrap();
    let examples: Vec<Example> = codes_of(&fixture)
        .into_iter()
        .enumerate()
        .map(|(i, codes)| {
            let tokens = mask[i].iter().filter(|&&m| m == 1).count().max(1);
            Example {
                codes,
                states: states.get(i).unwrap().narrow(0, 0, tokens).unwrap(),
            }
        })
        .collect();
    let settings = StepSettings {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.01,
        schedule: Schedule {
            kind: ScheduleKind::Cosine,
            warmup_steps: 1,
            total_steps: 6,
        },
        clip_grad: 0.5,
    };
    let options = FitOptions {
        epochs: 3,
        grad_accum: 1,
        patience: 0,
        lr_reduce_patience: 1,
        max_steps: None,
        seed: 5,
    };
    let fresh = || {
        let model =
            TrainableMusicGen::load(&fixture_dir(), Freeze::default(), &Device::Cpu).unwrap();
        let trainer = Trainer::new(&model, settings).unwrap();
        (model, trainer)
    };
    let plan = BatchPlan {
        batch_size: 2,
        shuffle_seed: Some(9),
        cfg_dropout: 0.3,
        dropout_seed: 9,
        pad: 64,
        start: 64,
    };
    let data = FitData {
        train: &examples,
        val: &examples[..2],
        plan: &plan,
    };
    let (mut model, mut trainer) = fresh();
    let mut straight = Hooks {
        keep: None,
        stop_after: None,
    };
    let whole = fit(
        &mut model,
        &mut trainer,
        data,
        &options,
        FitProgress::default(),
        &mut straight,
    )
    .unwrap();
    assert_eq!(whole.steps.len(), 6);

    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("resume");
    let (mut model, mut trainer) = fresh();
    let mut interrupted = Hooks {
        keep: Some(kept.clone()),
        stop_after: Some(1),
    };
    let err = fit(
        &mut model,
        &mut trainer,
        data,
        &options,
        FitProgress::default(),
        &mut interrupted,
    )
    .unwrap_err();
    assert!(err.to_string().contains("stopped here"), "{err}");

    let (mut model, mut trainer) = fresh();
    let progress = resume::load(&kept, &model, &mut trainer).unwrap();
    assert_eq!(progress.epochs.len(), 1);
    let mut rest = Hooks {
        keep: None,
        stop_after: None,
    };
    let resumed = fit(
        &mut model,
        &mut trainer,
        data,
        &options,
        progress,
        &mut rest,
    )
    .unwrap();
    let losses = |o: &ekphrasis_models::musicgen::finetune::FitOutcome| -> Vec<f64> {
        o.steps.iter().map(|s| s.loss).collect()
    };
    assert_eq!(losses(&resumed), losses(&whole));
    assert_eq!(resumed.best_epoch, whole.best_epoch);
    for (name, tensor) in &whole.best {
        assert_eq!(
            max_abs_diff(tensor, &resumed.best[name]),
            0.0,
            "{name}: the resumed run ends elsewhere"
        );
    }
}
