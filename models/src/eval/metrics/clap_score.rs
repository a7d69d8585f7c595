//! The CLAP score: the mean over generated files of the cosine similarity between a file's CLAP
//! audio embedding and its text's CLAP text embedding, in f64 (the embeddings are already
//! L2-normalised by the model, but the full cosine is taken so that any embedding works).

/// The cosine similarity of two embeddings in f64; `None` when their lengths differ or either
/// is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    let denominator = aa.sqrt() * bb.sqrt();
    (denominator > 0.0).then(|| dot / denominator)
}

/// The CLAP score of `(audio embedding, text embedding)` pairs: the mean of their cosines;
/// `None` for no pairs or a pair without a cosine.
pub fn clap_score<'a>(pairs: impl IntoIterator<Item = (&'a [f32], &'a [f32])>) -> Option<f64> {
    let mut sum = 0f64;
    let mut count = 0usize;
    for (audio, text) in pairs {
        sum += cosine(audio, text)?;
        count += 1;
    }
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 2.0]), Some(0.0));
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]).unwrap() - 1.0).abs() < 1e-15);
        assert!((cosine(&[1.0, 0.0], &[-3.0, 0.0]).unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn score_is_the_mean_cosine() {
        let a: [&[f32]; 2] = [&[1.0, 0.0], &[0.0, 1.0]];
        let t: [&[f32]; 2] = [&[1.0, 0.0], &[1.0, 1.0]];
        let score = clap_score(a.into_iter().zip(t)).unwrap();
        assert!((score - (1.0 + 0.5f64.sqrt()) / 2.0).abs() < 1e-15);
        assert_eq!(clap_score(std::iter::empty()), None);
    }
}
