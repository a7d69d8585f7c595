//! Reading the test runners' closing lines (cargo's `test result:` and node's TAP counts) so the
//! test task can end with one summary.

/// Counts of tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    /// Adds a cargo `test result: ok. 3 passed; 0 failed; 1 ignored; …` line.
    pub fn add_cargo_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (number, word) = match words.as_slice() {
                [.., n, w] => (n.parse::<u64>().ok(), *w),
                _ => continue,
            };
            let Some(number) = number else { continue };
            match word {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.skipped += number,
                _ => {}
            }
        }
    }

    /// Adds a node TAP count line such as `# pass 3`.
    pub fn add_tap_line(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if words.next() != Some("#") {
            return;
        }
        let (Some(word), Some(number)) = (words.next(), words.next()) else {
            return;
        };
        let Ok(number) = number.parse::<u64>() else {
            return;
        };
        match word {
            "pass" => self.passed += number,
            "fail" | "cancelled" => self.failed += number,
            "skipped" | "todo" => self.skipped += number,
            _ => {}
        }
    }

    /// The sum of two counts.
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
            skipped: self.skipped + other.skipped,
        }
    }

    /// `label: N passed, N failed, N skipped`.
    pub fn line(&self, label: &str) -> String {
        format!(
            "{label}: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_result_lines() {
        let mut counts = Counts::default();
        counts.add_cargo_line(
            "test result: ok. 13 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        );
        counts.add_cargo_line("test result: FAILED. 1 passed; 3 failed; 0 ignored; 0 measured");
        counts.add_cargo_line("running 4 tests");
        assert_eq!(
            counts,
            Counts {
                passed: 14,
                failed: 3,
                skipped: 2
            }
        );
    }

    #[test]
    fn reads_node_tap_counts() {
        let mut counts = Counts::default();
        for line in [
            "# tests 4",
            "# pass 3",
            "# fail 1",
            "# skipped 0",
            "# duration_ms 12.5",
            "ok 1 - x",
        ] {
            counts.add_tap_line(line);
        }
        assert_eq!(
            counts,
            Counts {
                passed: 3,
                failed: 1,
                skipped: 0
            }
        );
        assert_eq!(
            counts.line("browser"),
            "browser: 3 passed, 1 failed, 0 skipped"
        );
    }
}
