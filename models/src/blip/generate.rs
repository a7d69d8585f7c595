//! Choosing the caption's tokens as transformers' `generate` does for BLIP (5.24): greedy
//! decoding, or beam search with its length penalty and early-stopping rule, both ending at the
//! first `[SEP]` or after a bounded number of new tokens. The search sees the model only through
//! [`Steps`], so it holds no tensor code.
//!
//! Beam search follows transformers' vectorised `_beam_search` step by step, in `f32`: each step
//! takes the `2·beams` best continuations of all running beams by accumulated log-probability;
//! those ending in `[SEP]` (or reaching the length limit) among the first `beams` of them become
//! finished hypotheses scored `sum log p / new_len^length_penalty`, the best `beams` unfinished ones
//! run on; the search stops when no running beam can beat the worst finished one (the
//! `early_stopping=False` heuristic), when every slot is finished (`early_stopping=True`), or at the
//! length limit. The best finished hypothesis is returned.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::musicgen::sampling::argmax;

/// transformers' default when `generate` is given no length: 20 new tokens.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 20;

/// The most beams this implementation runs (a decoder step reads the weights once for all).
pub const MAX_BEAMS: usize = 8;

/// transformers' "minus infinity" for excluded candidates.
const EXCLUDED: f32 = -1.0e9;

/// How the caption's tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decoding {
    /// The most likely token at each step (transformers' default for BLIP).
    Greedy,
    /// Beam search.
    Beam(BeamSettings),
}

/// Beam search settings, with transformers' `GenerationConfig` names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamSettings {
    /// Hypotheses kept at each step (2 to [`MAX_BEAMS`]).
    pub num_beams: usize,
    /// Finished scores are divided by `new_tokens^length_penalty` (default 1).
    pub length_penalty: f32,
    /// Stop as soon as `num_beams` hypotheses are finished (default false: stop when no running
    /// beam can do better).
    pub early_stopping: bool,
}

impl BeamSettings {
    /// `num_beams` with transformers' defaults for the rest.
    pub fn new(num_beams: usize) -> Self {
        Self {
            num_beams,
            length_penalty: 1.0,
            early_stopping: false,
        }
    }

    fn check(&self) -> Result<()> {
        if !(2..=MAX_BEAMS).contains(&self.num_beams) {
            return Err(Error::Input(format!(
                "num_beams must be between 2 and {MAX_BEAMS} (1 is greedy decoding), not {}",
                self.num_beams
            )));
        }
        if !self.length_penalty.is_finite() {
            return Err(Error::Input(
                "length_penalty must be a finite number".into(),
            ));
        }
        Ok(())
    }
}

/// What a caption is made with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptionOptions {
    /// Greedy (the default) or beam search.
    pub decoding: Decoding,
    /// New tokens at most, `[SEP]` included; `None`: transformers' default of 20, fewer when the
    /// decoder's positions run out.
    pub max_new_tokens: Option<usize>,
}

impl Default for CaptionOptions {
    fn default() -> Self {
        Self {
            decoding: Decoding::Greedy,
            max_new_tokens: None,
        }
    }
}

/// A decoder as the search drives it. Rows are running sequences (beams).
pub trait Steps {
    /// Forgets everything, runs the prompt as one row and returns its last position's logits.
    fn prefill(&mut self, prompt: &[u32]) -> Result<Vec<f32>>;
    /// Keeps, as row i, the row `rows[i]` of the current state (rows may repeat).
    fn reorder(&mut self, rows: &[u32]) -> Result<()>;
    /// Appends one token to every row and returns each row's logits for the next position.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>>;
}

/// The ids generated after `prompt`, `end` included when it was generated, at most `max_new`.
pub fn generate(
    steps: &mut impl Steps,
    prompt: &[u32],
    end: u32,
    max_new: usize,
    decoding: Decoding,
    cancel: &AtomicBool,
) -> Result<Vec<u32>> {
    if prompt.is_empty() || max_new == 0 {
        return Err(Error::Input(
            "generation needs a start token and at least one new token".into(),
        ));
    }
    match decoding {
        Decoding::Greedy => greedy(steps, prompt, end, max_new, cancel),
        Decoding::Beam(settings) => {
            settings.check()?;
            beam_search(steps, prompt, end, max_new, settings, cancel)
        }
    }
}

fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

fn greedy(
    steps: &mut impl Steps,
    prompt: &[u32],
    end: u32,
    max_new: usize,
    cancel: &AtomicBool,
) -> Result<Vec<u32>> {
    check_cancel(cancel)?;
    let mut logits = steps.prefill(prompt)?;
    let mut out = Vec::with_capacity(max_new);
    loop {
        let token = argmax(&logits);
        out.push(token);
        if token == end || out.len() == max_new {
            return Ok(out);
        }
        check_cancel(cancel)?;
        logits = steps
            .step(&[token])?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Input("the decoder returned no logits".into()))?;
    }
}

/// `log_softmax` of one row, in `f32`.
fn log_softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    let log_sum = sum.ln();
    row.iter().map(|v| v - max - log_sum).collect()
}

/// The `k` largest `(value, index)` pairs, largest first (lower index first on ties).
fn top_k(values: impl Iterator<Item = f32>, k: usize) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    for (i, v) in values.enumerate() {
        if best.len() == k && best.last().is_some_and(|(worst, _)| v <= *worst) {
            continue;
        }
        let at = best.partition_point(|(b, _)| *b >= v);
        best.insert(at, (v, i));
        best.truncate(k);
    }
    best
}

/// A hypothesis: its new ids, score and whether it is finished.
#[derive(Debug, Clone)]
struct Hypothesis {
    ids: Vec<u32>,
    score: f32,
    finished: bool,
}

fn beam_search(
    steps: &mut impl Steps,
    prompt: &[u32],
    end: u32,
    max_new: usize,
    settings: BeamSettings,
    cancel: &AtomicBool,
) -> Result<Vec<u32>> {
    let beams = settings.num_beams;
    let keep = 2 * beams; // max(2, 1 + number of end ids) · beams, with one end id
    let lp = settings.length_penalty;
    let prompt_len = prompt.len();
    let max_length = prompt_len + max_new;

    let mut running: Vec<Hypothesis> = (0..beams)
        .map(|b| Hypothesis {
            ids: Vec::new(),
            score: if b == 0 { 0.0 } else { EXCLUDED },
            finished: false,
        })
        .collect();
    let mut finished: Vec<Hypothesis> = vec![
        Hypothesis {
            ids: Vec::new(),
            score: EXCLUDED,
            finished: false,
        };
        beams
    ];
    let mut improvable = true;
    let mut cur_len = prompt_len;

    check_cancel(cancel)?;
    let first = steps.prefill(prompt)?;
    steps.reorder(&vec![0; beams])?;
    let mut rows: Vec<Vec<f32>> = vec![first; beams];
    loop {
        // Accumulated log-probabilities of every (beam, token), and the best `keep` of them.
        let log_probs: Vec<Vec<f32>> = rows.iter().map(|r| log_softmax(r)).collect();
        let vocab = log_probs[0].len();
        let accumulated = log_probs
            .iter()
            .zip(&running)
            .flat_map(|(row, beam)| row.iter().map(move |v| v + beam.score));
        let candidates: Vec<(f32, usize, u32, bool)> = top_k(accumulated, keep)
            .into_iter()
            .map(|(score, index)| {
                let (beam, token) = (index / vocab, (index % vocab) as u32);
                let hits = token == end || cur_len + 1 >= max_length;
                (score, beam, token, hits)
            })
            .collect();
        let extend = |beam: usize, token: u32| {
            let mut ids = running[beam].ids.clone();
            ids.push(token);
            ids
        };

        // The best `beams` candidates that did not stop run on.
        let next_running: Vec<(f32, usize, u32)> = top_k(
            candidates
                .iter()
                .map(|(s, _, _, hits)| if *hits { s + EXCLUDED } else { *s }),
            beams,
        )
        .into_iter()
        .map(|(score, k)| (score, candidates[k].1, candidates[k].2))
        .collect();

        // Finished hypotheses: the stopped ones among the first `beams` candidates, length-penalised,
        // merged with the earlier ones; the best `beams` stay.
        let denominator = ((cur_len + 1 - prompt_len) as f32).powf(lp);
        let full = settings.early_stopping && finished.iter().all(|h| h.finished);
        let mut merged = finished.clone();
        for (k, (score, beam, token, hits)) in candidates.iter().enumerate() {
            let just_finished = *hits && k < beams;
            let mut score = score / denominator;
            if full {
                score += EXCLUDED;
            }
            if !improvable {
                score += EXCLUDED;
            }
            if !just_finished {
                score += EXCLUDED;
            }
            merged.push(Hypothesis {
                ids: extend(*beam, *token),
                score,
                finished: just_finished,
            });
        }
        finished = top_k(merged.iter().map(|h| h.score), beams)
            .into_iter()
            .map(|(_, i)| merged[i].clone())
            .collect();

        let sources: Vec<u32> = next_running.iter().map(|(_, b, _)| *b as u32).collect();
        running = next_running
            .iter()
            .map(|(score, beam, token)| Hypothesis {
                ids: extend(*beam, *token),
                score: *score,
                finished: false,
            })
            .collect();
        cur_len += 1;

        // Can a running beam still beat the worst finished one?
        let best_len = (cur_len - prompt_len) as f32;
        let best_possible = running[0].score / best_len.powf(lp);
        let worst_finished = finished
            .iter()
            .map(|h| h.score)
            .fold(f32::INFINITY, f32::min);
        improvable = improvable
            && finished.iter().any(|h| {
                let worst = if h.finished { worst_finished } else { EXCLUDED };
                best_possible > worst
            });
        let all_finished = finished.iter().all(|h| h.finished);
        let all_stopped = candidates.iter().all(|c| c.3);
        if !improvable || (all_finished && settings.early_stopping) || all_stopped {
            break;
        }
        check_cancel(cancel)?;
        steps.reorder(&sources)?;
        let tokens: Vec<u32> = running
            .iter()
            .map(|h| *h.ids.last().unwrap_or(&end))
            .collect();
        rows = steps.step(&tokens)?;
        if rows.len() != beams {
            return Err(Error::Input(
                "the decoder returned the wrong number of rows".into(),
            ));
        }
    }
    Ok(finished.swap_remove(0).ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy decoder whose next-token logits depend only on the last token: a fixed table.
    struct Table {
        table: Vec<Vec<f32>>,
        rows: Vec<u32>,
    }

    impl Steps for Table {
        fn prefill(&mut self, prompt: &[u32]) -> Result<Vec<f32>> {
            self.rows = vec![*prompt.last().unwrap()];
            Ok(self.table[self.rows[0] as usize].clone())
        }
        fn reorder(&mut self, rows: &[u32]) -> Result<()> {
            self.rows = rows.iter().map(|r| self.rows[*r as usize]).collect();
            Ok(())
        }
        fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
            self.rows = tokens.to_vec();
            Ok(tokens
                .iter()
                .map(|t| self.table[*t as usize].clone())
                .collect())
        }
    }

    fn table() -> Table {
        // token 0 is the end; from 1 the likeliest next is 2, from 2 it is 3, from 3 the end.
        Table {
            table: vec![
                vec![0.0, 0.0, 0.0, 0.0],
                vec![-1.0, 0.0, 3.0, 1.0],
                vec![0.5, 0.0, 0.0, 2.0],
                vec![4.0, 0.0, 1.0, 0.0],
            ],
            rows: Vec::new(),
        }
    }

    #[test]
    fn greedy_stops_at_the_end_token_or_the_limit() {
        let cancel = AtomicBool::new(false);
        let ids = generate(&mut table(), &[1], 0, 10, Decoding::Greedy, &cancel).unwrap();
        assert_eq!(ids, [2, 3, 0]);
        let ids = generate(&mut table(), &[1], 0, 2, Decoding::Greedy, &cancel).unwrap();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn beam_search_ends_with_the_end_token_within_the_limit() {
        let cancel = AtomicBool::new(false);
        for beams in 2..=4 {
            let ids = generate(
                &mut table(),
                &[1],
                0,
                6,
                Decoding::Beam(BeamSettings::new(beams)),
                &cancel,
            )
            .unwrap();
            assert!(ids.len() <= 6 && ids.last() == Some(&0), "{ids:?}");
        }
    }

    #[test]
    fn refuses_bad_settings_and_honours_cancel() {
        let cancel = AtomicBool::new(false);
        for beams in [0, 1, MAX_BEAMS + 1] {
            let err = generate(
                &mut table(),
                &[1],
                0,
                5,
                Decoding::Beam(BeamSettings::new(beams)),
                &cancel,
            )
            .unwrap_err();
            assert!(matches!(err, Error::Input(_)), "{err}");
        }
        assert!(generate(&mut table(), &[1], 0, 0, Decoding::Greedy, &cancel).is_err());
        let cancelled = AtomicBool::new(true);
        let err = generate(&mut table(), &[1], 0, 5, Decoding::Greedy, &cancelled).unwrap_err();
        assert!(matches!(err, Error::Cancelled));
    }

    #[test]
    fn top_k_is_sorted_and_prefers_the_lower_index_on_ties() {
        let got = top_k([1.0, 5.0, 3.0, 5.0, -2.0].into_iter(), 3);
        assert_eq!(got, [(5.0, 1), (5.0, 3), (3.0, 2)]);
        assert_eq!(argmax(&[1.0, 5.0, 5.0]), 1);
    }
}
