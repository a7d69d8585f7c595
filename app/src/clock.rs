//! Times as people read them: `0:03`, `1:05`, `1:02:03`.

/// Seconds as `m:ss` (or `h:mm:ss` from an hour on), counting whole seconds down.
pub fn clock(seconds: f64) -> String {
    let whole = if seconds.is_finite() && seconds > 0.0 {
        seconds.floor() as u64
    } else {
        0
    };
    let (hours, minutes, secs) = (whole / 3600, (whole / 60) % 60, whole % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

/// Where playback is and how much has arrived, e.g. `0:03 / 0:15`.
pub fn progress(position: f64, received: f64) -> String {
    format!("{} / {}", clock(position), clock(received))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_in_minutes_and_hours() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(3.99), "0:03");
        assert_eq!(clock(65.0), "1:05");
        assert_eq!(clock(3723.0), "1:02:03");
        assert_eq!(clock(-1.0), "0:00");
        assert_eq!(clock(f64::NAN), "0:00");
        assert_eq!(progress(3.2, 15.0), "0:03 / 0:15");
    }
}
