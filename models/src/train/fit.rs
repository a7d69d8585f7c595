//! Fitting the head on cached backbone features: AdamW over shuffled mini-batches with seeded
//! dropout, the held-out split judged after every epoch, early stopping with patience, and the
//! best epoch's weights kept. An epoch is better than the best so far when its held-out accuracy
//! is higher, or equal with a lower held-out loss (accuracy on a few hundred held-out paintings
//! moves in coarse steps; the loss breaks its ties).

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::metrics::Confusion;
use super::params::Params;
use super::split::Split;
use crate::emotion::resnet_bigru::{EmotionHead, HeadConfig};
use crate::error::{Error, Result};

/// How to fit.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// The most epochs to run.
    pub epochs: usize,
    /// Items per optimiser step.
    pub batch_size: usize,
    /// AdamW's learning rate.
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Stop after this many epochs without a better held-out result.
    pub patience: usize,
    /// Seeds the initial weights, the batch order and dropout.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch_size: 16,
            learning_rate: 1e-3,
            weight_decay: 0.01,
            patience: 8,
            seed: 0,
        }
    }
}

/// What one epoch did.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// Counted from 1.
    pub epoch: usize,
    /// Mean cross-entropy over the training items (with dropout).
    pub train_loss: f64,
    /// Mean cross-entropy over the held-out items (no dropout).
    pub held_out_loss: f64,
    /// Share of held-out items labelled right.
    pub held_out_accuracy: f64,
    /// Whether this epoch is the best so far (its weights are kept).
    pub best: bool,
    /// Wall-clock seconds the epoch took.
    pub seconds: f64,
}

/// The fitted head.
#[derive(Debug)]
pub struct Fitted {
    /// The head with the best epoch's weights.
    pub head: EmotionHead,
    /// Those weights by full name (`head.…`), for saving.
    pub weights: BTreeMap<String, Tensor>,
    /// Every epoch run, in order.
    pub epochs: Vec<EpochRecord>,
    /// The best epoch (counted from 1).
    pub best_epoch: usize,
    /// The held-out confusion matrix of the best weights.
    pub confusion: Confusion,
}

/// Fits a new head on `features` (N, C, h, w) with `labels` (N), training on `split.train` and
/// judging on `split.held_out`; `on_epoch` hears about each epoch as it ends.
pub fn fit(
    features: &Tensor,
    labels: &[usize],
    split: &Split,
    head_config: &HeadConfig,
    options: &FitOptions,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<Fitted> {
    check(features, labels, split, options)?;
    let device = features.device().clone();
    let params = Params::default();
    let head = EmotionHead::new(
        head_config,
        params.var_builder(options.seed, &device).pp("head"),
    )?;
    let mut optimiser = AdamW::new(
        params.vars(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let labels_u32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5EED_F17D);
    let mut order = split.train.clone();
    let mut epochs = Vec::new();
    let mut best: Option<(f64, f64, usize, BTreeMap<String, Tensor>)> = None;

    for epoch in 1..=options.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for batch in order.chunks(options.batch_size.max(1)) {
            let (xs, ys) = gather(features, &labels_u32, batch, &device)?;
            let logits = head.forward_train(&xs, &mut rng)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &ys)?;
            optimiser.backward_step(&loss)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
        }
        let train_loss = loss_sum / split.train.len() as f64;
        let (held_out_loss, predictions) = evaluate(
            &head,
            features,
            &labels_u32,
            &split.held_out,
            options.batch_size,
            &device,
        )?;
        let truth: Vec<usize> = split.held_out.iter().map(|&i| labels[i]).collect();
        let accuracy = Confusion::from_predictions(&truth, &predictions).accuracy();
        let improved = match &best {
            None => true,
            Some((best_accuracy, best_loss, _, _)) => {
                accuracy > *best_accuracy
                    || (accuracy == *best_accuracy && held_out_loss < *best_loss)
            }
        };
        if improved {
            best = Some((accuracy, held_out_loss, epoch, params.snapshot()?));
        }
        let record = EpochRecord {
            epoch,
            train_loss,
            held_out_loss,
            held_out_accuracy: accuracy,
            best: improved,
            seconds: started.elapsed().as_secs_f64(),
        };
        on_epoch(&record);
        epochs.push(record);
        let best_epoch = best.as_ref().map_or(epoch, |b| b.2);
        if epoch - best_epoch >= options.patience.max(1) {
            break;
        }
    }

    let Some((_, _, best_epoch, weights)) = best else {
        return Err(Error::Input("--epochs must be at least 1".into()));
    };
    params.restore(&weights)?;
    let (_, predictions) = evaluate(
        &head,
        features,
        &labels_u32,
        &split.held_out,
        options.batch_size,
        &device,
    )?;
    let truth: Vec<usize> = split.held_out.iter().map(|&i| labels[i]).collect();
    Ok(Fitted {
        head,
        weights,
        epochs,
        best_epoch,
        confusion: Confusion::from_predictions(&truth, &predictions),
    })
}

fn check(features: &Tensor, labels: &[usize], split: &Split, options: &FitOptions) -> Result<()> {
    let count = features.dims().first().copied().unwrap_or(0);
    if features.rank() != 4 || count != labels.len() {
        return Err(Error::Input(format!(
            "features {:?} do not match {} labels",
            features.dims(),
            labels.len()
        )));
    }
    if split.train.is_empty() || split.held_out.is_empty() {
        return Err(Error::Input(
            "the split needs training and held-out items".into(),
        ));
    }
    if options.epochs == 0 {
        return Err(Error::Input("--epochs must be at least 1".into()));
    }
    if options.batch_size == 0 {
        return Err(Error::Input("--batch-size must be at least 1".into()));
    }
    if !(options.learning_rate.is_finite() && options.learning_rate > 0.0) {
        return Err(Error::Input(
            "--learning-rate must be a positive number".into(),
        ));
    }
    Ok(())
}

/// The features and labels of some items, as a batch.
fn gather(
    features: &Tensor,
    labels: &[u32],
    items: &[usize],
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let ids: Vec<u32> = items.iter().map(|&i| i as u32).collect();
    let ids = Tensor::new(ids, device)?;
    let ys: Vec<u32> = items.iter().map(|&i| labels[i]).collect();
    Ok((features.index_select(&ids, 0)?, Tensor::new(ys, device)?))
}

/// The mean loss and the predicted classes of some items, dropout off.
fn evaluate(
    head: &EmotionHead,
    features: &Tensor,
    labels: &[u32],
    items: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<(f64, Vec<usize>)> {
    let mut loss_sum = 0.0;
    let mut predictions = Vec::with_capacity(items.len());
    for batch in items.chunks(batch_size.max(1)) {
        let (xs, ys) = gather(features, labels, batch, device)?;
        let logits = head.forward(&xs)?.detach();
        let loss = candle_nn::loss::cross_entropy(&logits, &ys)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
        let best = logits.argmax(1)?.to_vec1::<u32>()?;
        predictions.extend(best.into_iter().map(|p| p as usize));
    }
    Ok((loss_sum / items.len().max(1) as f64, predictions))
}

#[cfg(test)]
mod tests {
    use candle_core::DType;
    use rand::Rng;

    use super::*;
    use crate::train::split::stratified;

    /// Feature maps whose channels carry a class-specific pattern under noise.
    fn separable(per_class: usize, seed: u64) -> (Tensor, Vec<usize>) {
        let (channels, cells) = (8, 9);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..5 * per_class {
            let class = i % 5;
            labels.push(class);
            for c in 0..channels {
                let mean = if c % 5 == class { 1.0 } else { 0.2 };
                values.extend((0..cells).map(|_| mean + rng.random_range(-0.3..0.3f32)));
            }
        }
        let features = Tensor::from_vec(values, (5 * per_class, channels, 3, 3), &Device::Cpu);
        (features.unwrap(), labels)
    }

    fn small_head() -> HeadConfig {
        HeadConfig {
            feature_size: 8,
            gru_hidden: 6,
            gru_layers: 2,
            attention_heads: 2,
            dropout: 0.1,
        }
    }

    #[test]
    fn learns_separable_classes_and_keeps_the_best_epoch() {
        let (features, labels) = separable(8, 1);
        let split = stratified(&labels, 5, 0.25, 2);
        let options = FitOptions {
            epochs: 30,
            batch_size: 8,
            learning_rate: 1e-2,
            patience: 6,
            seed: 3,
            ..FitOptions::default()
        };
        let mut seen = Vec::new();
        let fitted = fit(
            &features,
            &labels,
            &split,
            &small_head(),
            &options,
            &mut |r| seen.push(r.clone()),
        )
        .unwrap();
        assert_eq!(seen, fitted.epochs);
        let best = &fitted.epochs[fitted.best_epoch - 1];
        assert!(best.best);
        assert!(
            fitted
                .epochs
                .iter()
                .all(|e| e.held_out_accuracy <= best.held_out_accuracy),
            "the kept epoch is the most accurate"
        );
        assert!((fitted.confusion.accuracy() - best.held_out_accuracy).abs() < 1e-12);
        assert!(best.held_out_accuracy >= 0.8, "{:?}", fitted.epochs);
        assert!(
            fitted.epochs.first().unwrap().train_loss > fitted.epochs.last().unwrap().train_loss
        );
        assert_eq!(fitted.weights.len(), 22);
        assert!(fitted.weights.keys().all(|k| k.starts_with("head.")));

        // The same seed gives the same run.
        let again = fit(
            &features,
            &labels,
            &split,
            &small_head(),
            &options,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(again.epochs.len(), fitted.epochs.len());
        assert_eq!(again.best_epoch, fitted.best_epoch);
        assert_eq!(again.epochs[0].train_loss, fitted.epochs[0].train_loss);
    }

    #[test]
    fn refuses_unusable_settings() {
        let (features, labels) = separable(4, 1);
        let split = stratified(&labels, 5, 0.25, 2);
        for options in [
            FitOptions {
                epochs: 0,
                ..FitOptions::default()
            },
            FitOptions {
                batch_size: 0,
                ..FitOptions::default()
            },
            FitOptions {
                learning_rate: f64::NAN,
                ..FitOptions::default()
            },
        ] {
            let err = fit(
                &features,
                &labels,
                &split,
                &small_head(),
                &options,
                &mut |_| {},
            );
            assert!(matches!(err, Err(Error::Input(_))), "{options:?}");
        }
        let wrong = Tensor::zeros((3, 8, 3, 3), DType::F32, &Device::Cpu).unwrap();
        assert!(
            fit(
                &wrong,
                &labels,
                &split,
                &small_head(),
                &FitOptions::default(),
                &mut |_| {}
            )
            .is_err()
        );
    }
}
