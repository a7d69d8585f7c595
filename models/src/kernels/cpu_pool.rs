//! Splitting a decoder step's CPU work over candle's persistent barrier pool, the threads its
//! quantized products already run on: a second pool (rayon) would wake its own threads while the
//! barrier pool's spin, and on a small machine they take turns on the same cores.

#![allow(unsafe_code)]

/// Runs `work(index, chunk)` for every `len`-long chunk of `out` (the last may be shorter), the
/// chunks shared out over the pool's threads and the calling one.
pub fn for_each_chunk_mut<T, F>(out: &mut [T], len: usize, work: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    assert!(len > 0, "chunks need a length");
    let total = out.len();
    let chunks = total.div_ceil(len);
    let base = SharedMut(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(chunks, |range| {
        let base = &base;
        for index in range {
            let start = index * len;
            let end = (start + len).min(total);
            // SAFETY: chunk `index` covers `start..end`, which no other index covers, inside
            // `out`, which stays borrowed until the pool call returns.
            let chunk = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
            work(index, chunk);
        }
    });
}

/// The output's base pointer, shared by threads that write disjoint chunks.
struct SharedMut<T>(*mut T);
// SAFETY: see `for_each_chunk_mut`: every thread writes only its own chunks.
unsafe impl<T: Send> Sync for SharedMut<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_visited_once_with_its_index() {
        let mut out = vec![0usize; 103];
        for_each_chunk_mut(&mut out, 10, |index, chunk| {
            for (i, v) in chunk.iter_mut().enumerate() {
                *v += index * 10 + i + 1;
            }
        });
        let want: Vec<usize> = (1..=103).collect();
        assert_eq!(out, want);
    }
}
