//! Generation as transformers' `generate` does it for a causal language model: the prompt (rows
//! left-padded to one length) in one forward pass, then one position per step through the KV
//! cache; greedy or seeded sampling; a row ends at an end-of-sequence id, which is kept, and
//! finished rows are fed the pad id until every row is done or the token budget is spent.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::FalconRw;
use super::model::last_logits;
use super::sampling::{Sampling, SamplingParams, argmax, sample};
use crate::error::{Error, Result};

/// The most new tokens one generation may ask for.
pub const MAX_NEW_TOKENS: usize = 1024;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// New tokens at most (1 to [`MAX_NEW_TOKENS`], and within the context with the prompt).
    pub max_new_tokens: usize,
    /// Greedy or sampling.
    pub sampling: Sampling,
    /// Seed of the sampler.
    pub seed: u64,
    /// Ids that end a row (kept in its output). `None`: the checkpoint's, as transformers reads
    /// them (`generation_config.json`, else `config.json`).
    pub eos_token_ids: Option<Vec<u32>>,
}

impl Default for GenerateOptions {
    /// 60 new tokens (the length of a two-line description), sampled with
    /// [`SamplingParams::DEFAULT`], seed 0, the checkpoint's end-of-sequence ids.
    fn default() -> Self {
        Self {
            max_new_tokens: 60,
            sampling: Sampling::Sample(SamplingParams::DEFAULT),
            seed: 0,
            eos_token_ids: None,
        }
    }
}

impl FalconRw {
    /// Generates after `prompt` (token ids), calling `stop(new_ids)` after every new token: when
    /// it returns true generation ends there. Checks `cancel` before every step. Returns the new
    /// ids (not the prompt), the end-of-sequence id included when one was generated.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        options: &GenerateOptions,
        cancel: &AtomicBool,
        mut stop: impl FnMut(&[u32]) -> bool,
    ) -> Result<Vec<u32>> {
        let mut rows = self.run(&[prompt.to_vec()], options, cancel, &mut |_, ids| stop(ids))?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Generates after several prompts at once, left-padded as transformers pads a batch. Each
    /// row's new ids end at its end-of-sequence id (included) or at the token budget.
    pub fn generate_batch(
        &mut self,
        prompts: &[Vec<u32>],
        options: &GenerateOptions,
        cancel: &AtomicBool,
    ) -> Result<Vec<Vec<u32>>> {
        self.run(prompts, options, cancel, &mut |_, _| false)
    }

    /// The end-of-sequence ids `options` ends rows at.
    pub fn eos_token_ids_for(&self, options: &GenerateOptions) -> Vec<u32> {
        options
            .eos_token_ids
            .clone()
            .unwrap_or_else(|| self.eos_token_ids.clone())
    }

    fn check(&self, prompts: &[Vec<u32>], options: &GenerateOptions) -> Result<()> {
        if prompts.is_empty() || prompts.iter().any(Vec::is_empty) {
            return Err(Error::Input("the prompt is empty".into()));
        }
        if options.max_new_tokens == 0 || options.max_new_tokens > MAX_NEW_TOKENS {
            return Err(Error::Input(format!(
                "max new tokens: must be 1 to {MAX_NEW_TOKENS}, got {}",
                options.max_new_tokens
            )));
        }
        let context = self.config.max_position_embeddings;
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        if longest + options.max_new_tokens > context {
            return Err(Error::Input(format!(
                "the prompt has {longest} tokens; with {} new tokens that passes the model's \
                 context of {context} tokens",
                options.max_new_tokens
            )));
        }
        let vocab = self.config.vocab_size as u32;
        if let Some(bad) = prompts.iter().flatten().find(|&&id| id >= vocab) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}"
            )));
        }
        if let Sampling::Sample(params) = &options.sampling {
            params.validate()?;
        }
        Ok(())
    }

    fn run(
        &mut self,
        prompts: &[Vec<u32>],
        options: &GenerateOptions,
        cancel: &AtomicBool,
        stop: &mut dyn FnMut(usize, &[u32]) -> bool,
    ) -> Result<Vec<Vec<u32>>> {
        self.check(prompts, options)?;
        self.model.clear_kv_cache();
        let result = self.run_checked(prompts, options, cancel, stop);
        self.model.clear_kv_cache();
        result
    }

    fn run_checked(
        &mut self,
        prompts: &[Vec<u32>],
        options: &GenerateOptions,
        cancel: &AtomicBool,
        stop: &mut dyn FnMut(usize, &[u32]) -> bool,
    ) -> Result<Vec<Vec<u32>>> {
        let eos = self.eos_token_ids_for(options);
        // transformers pads with the end-of-sequence id when the model has no pad id.
        let pad = eos
            .first()
            .copied()
            .filter(|&id| (id as usize) < self.config.vocab_size)
            .unwrap_or(0);
        let b = prompts.len();
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(b * longest);
        let mut real = Vec::with_capacity(b);
        for prompt in prompts {
            let padding = longest - prompt.len();
            ids.extend(std::iter::repeat_n(pad, padding).chain(prompt.iter().copied()));
            real.push((0..longest).map(|j| j >= padding).collect::<Vec<_>>());
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let ids = Tensor::from_vec(ids, (b, longest), &self.device)?;
        let hidden = self.model.forward(&ids, Some(&real))?;
        let mut logits = last_logits(&self.model, &hidden)?;

        let limit = self.sampling_limit();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut out = vec![Vec::new(); b];
        let mut done = vec![false; b];
        for step in 0..options.max_new_tokens {
            let mut next = Vec::with_capacity(b);
            for (row, row_logits) in logits.iter().enumerate() {
                if done[row] {
                    next.push(pad);
                    continue;
                }
                let token = match &options.sampling {
                    Sampling::Greedy => argmax(row_logits),
                    Sampling::Sample(params) => {
                        sample(row_logits, params, limit, rng.random::<f64>())
                    }
                };
                out[row].push(token);
                done[row] = eos.contains(&token) || stop(row, &out[row]);
                next.push(token);
            }
            if done.iter().all(|d| *d) || step + 1 == options.max_new_tokens {
                break;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let ids = Tensor::from_vec(next, (b, 1), &self.device)?;
            let hidden = self.model.forward(&ids, None)?;
            logits = last_logits(&self.model, &hidden)?;
        }
        Ok(out)
    }

    /// Sampling draws among the ids the tokenizer can decode (the head is padded past them).
    fn sampling_limit(&self) -> usize {
        let vocab = self.config.vocab_size;
        self.tokenizer
            .as_ref()
            .map_or(vocab, |t| t.get_vocab_size(true).min(vocab))
    }
}
