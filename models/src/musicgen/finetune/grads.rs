//! A batch's loss and the gradients of every trainable tensor, two ways that give the same
//! numbers. Whole graph: one forward pass keeping every intermediate tensor, one backward pass.
//! Layer by layer (the model's `recompute` setting): the forward pass keeps only each layer's
//! input; the backward pass then walks the layers from the last, recomputing one layer's graph
//! at a time from its input and pushing the gradient through it with the surrogate loss
//! `Σ output · ∂loss/∂output`. Memory then holds one layer's graph instead of all of them, which
//! is what lets 16 clips of 30 s train on one GPU. Dropout draws each layer's masks from that
//! layer's own seed, so the recomputed layer is the one the forward pass ran.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var, bail};

use super::data::Batch;
use super::loss::codebook_cross_entropy;
use super::model::TrainableMusicGen;

/// The loss of `batch` (before scaling) and the gradients of `scale × loss`.
pub fn batch_grads(
    model: &TrainableMusicGen,
    batch: &Batch,
    scale: f64,
) -> Result<(f64, GradStore)> {
    if model.recomputes() {
        layer_by_layer(model, batch, scale)
    } else {
        whole_graph(model, batch, scale)
    }
}

/// The loss of `batch`, its graph kept (a scalar).
pub fn batch_loss(model: &TrainableMusicGen, batch: &Batch) -> Result<Tensor> {
    let pad = model.config().pad_token_id();
    let logits = model.forward(&batch.states, &batch.mask, &batch.inputs)?;
    codebook_cross_entropy(&logits, &batch.labels, pad)
}

fn whole_graph(model: &TrainableMusicGen, batch: &Batch, scale: f64) -> Result<(f64, GradStore)> {
    let loss = batch_loss(model, batch)?;
    let value = f64::from(loss.to_scalar::<f32>()?);
    Ok((value, (loss * scale)?.backward()?))
}

/// Adds every gradient of `from` into `into`.
pub(super) fn merge(into: &mut GradStore, from: GradStore, vars: &[Var]) -> Result<()> {
    for var in vars {
        if let Some(g) = from.get(var.as_tensor()) {
            let total = match into.remove(var.as_tensor()) {
                Some(previous) => (previous + g)?,
                None => g.clone(),
            };
            into.insert(var.as_tensor(), total);
        }
    }
    Ok(())
}

/// `Σ xs · grad`: backpropagating it gives `grad` pushed through whatever made `xs`.
fn surrogate(xs: &Tensor, grad: &Tensor) -> Result<Tensor> {
    (xs * grad)?.sum_all()
}

fn layer_by_layer(
    model: &TrainableMusicGen,
    batch: &Batch,
    scale: f64,
) -> Result<(f64, GradStore)> {
    let vars: Vec<Var> = model.trainable().iter().map(|(_, v)| v.clone()).collect();
    let vars = vars.as_slice();
    let pad = model.config().pad_token_id();
    let seeds = model.stage_seeds()?;
    let masks = model.masks(&batch.inputs, &batch.mask)?;
    // The text side is computed once, its graph kept (it is small); the layers see a detached
    // copy whose gradient is collected from every layer.
    let memory = model.memory(&batch.states, &batch.mask)?;
    let memory_detached = memory.detach();

    // Forward: keep each layer's input, drop its graph.
    model.reseed(seeds[0])?;
    let mut inputs = Vec::with_capacity(model.layer_count() + 1);
    inputs.push(model.embed(&batch.inputs)?.detach());
    for (i, seed) in seeds[1..].iter().enumerate() {
        model.reseed(*seed)?;
        let out = model
            .layer_at(i, &inputs[i], &memory_detached, &masks)?
            .detach();
        inputs.push(out);
    }

    // The head and the loss, their graph from the last layer's output.
    let last = Var::from_tensor(&inputs[model.layer_count()])?;
    let logits = model.head(last.as_tensor())?;
    let loss = codebook_cross_entropy(&logits, &batch.labels, pad)?;
    let value = f64::from(loss.to_scalar::<f32>()?);
    let mut grads = (loss * scale)?.backward()?;
    let Some(mut upstream) = grads.remove(last.as_tensor()) else {
        bail!("no gradient reached the last layer")
    };
    let mut memory_grad: Option<Tensor> = None;

    // Backward, one layer at a time from the last.
    for i in (0..model.layer_count()).rev() {
        let input = Var::from_tensor(&inputs[i])?;
        let memory_in = Var::from_tensor(&memory_detached)?;
        model.reseed(seeds[i + 1])?;
        let out = model.layer_at(i, input.as_tensor(), memory_in.as_tensor(), &masks)?;
        let mut these = surrogate(&out, &upstream)?.backward()?;
        if let Some(g) = these.remove(memory_in.as_tensor()) {
            memory_grad = Some(match memory_grad {
                Some(sum) => (sum + g)?,
                None => g,
            });
        }
        let Some(down) = these.remove(input.as_tensor()) else {
            bail!("no gradient reached the input of layer {i}")
        };
        merge(&mut grads, these, vars)?;
        upstream = down;
    }

    // The embeddings and the text projection.
    model.reseed(seeds[0])?;
    let embedded = model.embed(&batch.inputs)?;
    merge(
        &mut grads,
        surrogate(&embedded, &upstream)?.backward()?,
        vars,
    )?;
    if let Some(g) = memory_grad {
        merge(&mut grads, surrogate(&memory, &g)?.backward()?, vars)?;
    }
    Ok((value, grads))
}
