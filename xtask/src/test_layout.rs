//! Where the integration tests are: each test crate lists its test binaries (`autotests = false`
//! and `[[test]]` in its Cargo.toml), and the files in its `tests/` are modules of one of them, so
//! a file in no binary would silently never run. The check below runs with the Rust tests.

/// The crates whose integration tests are listed binaries.
#[cfg(test)]
const TEST_CRATES: [&str; 3] = ["models", "server", "tests"];

#[cfg(test)]
mod tests {
    use super::TEST_CRATES;

    #[test]
    fn every_integration_test_file_runs() {
        for krate in TEST_CRATES {
            let dir = crate::root().join(krate);
            let read = |path: std::path::PathBuf| {
                std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            };
            let manifest = read(dir.join("Cargo.toml"));
            assert!(manifest.contains("autotests = false"), "{krate}/Cargo.toml");
            let binaries: Vec<&str> = manifest
                .lines()
                .filter_map(|line| line.trim().strip_prefix("path = \"tests/"))
                .filter_map(|rest| rest.strip_suffix(".rs\""))
                .collect();
            assert!(!binaries.is_empty(), "{krate}/Cargo.toml lists no [[test]]");
            let roots: String = binaries
                .iter()
                .map(|binary| read(dir.join("tests").join(format!("{binary}.rs"))))
                .collect();
            for entry in std::fs::read_dir(dir.join("tests")).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if let Some(module) = name.strip_suffix(".rs") {
                    assert!(
                        binaries.contains(&module) || roots.contains(&format!("\nmod {module};\n")),
                        "{krate}/tests/{name} is in no test binary: add `mod {module};` to one \
                         ({binaries:?})"
                    );
                }
            }
        }
    }
}
