//! When to try the server again after the connection drops: 0.5 s, doubling each time, at most
//! 10 s, and the whole seconds to count down meanwhile.

/// Wait before the first retry, in milliseconds.
pub const FIRST_DELAY_MS: u32 = 500;
/// Longest wait between retries, in milliseconds.
pub const MAX_DELAY_MS: u32 = 10_000;

/// How long to wait before retry number `retry` (0 for the first retry after a drop).
pub fn delay_ms(retry: u32) -> u32 {
    let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
    FIRST_DELAY_MS.saturating_mul(factor).min(MAX_DELAY_MS)
}

/// One step of a countdown: the whole seconds shown, and how long they stay shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountdownStep {
    pub seconds_left: u32,
    pub lasts_ms: u32,
}

/// The steps of counting down `delay_ms`, showing whole seconds rounded up.
pub fn countdown(delay_ms: u32) -> Vec<CountdownStep> {
    let mut steps = Vec::new();
    let mut remaining = delay_ms;
    while remaining > 0 {
        let seconds_left = remaining.div_ceil(1000);
        let lasts_ms = remaining - (seconds_left - 1) * 1000;
        steps.push(CountdownStep {
            seconds_left,
            lasts_ms,
        });
        remaining -= lasts_ms;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_half_a_second_up_to_ten() {
        let delays: Vec<u32> = (0..8).map(delay_ms).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]
        );
        assert_eq!(delay_ms(31), MAX_DELAY_MS);
        assert_eq!(delay_ms(32), MAX_DELAY_MS);
        assert_eq!(delay_ms(u32::MAX), MAX_DELAY_MS);
    }

    #[test]
    fn countdown_shows_whole_seconds_rounded_up() {
        let step = |seconds_left, lasts_ms| CountdownStep {
            seconds_left,
            lasts_ms,
        };
        assert_eq!(countdown(500), [step(1, 500)]);
        assert_eq!(countdown(2000), [step(2, 1000), step(1, 1000)]);
        assert_eq!(
            countdown(2500),
            [step(3, 500), step(2, 1000), step(1, 1000)]
        );
        assert!(countdown(0).is_empty());
        let total: u32 = countdown(MAX_DELAY_MS).iter().map(|s| s.lasts_ms).sum();
        assert_eq!(total, MAX_DELAY_MS);
    }
}
