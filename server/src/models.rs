//! Whether the model chain can run on this server. This build has no model runtime yet, so
//! every `Generate` is answered `models_unavailable` with the reason given here — never with a
//! made-up result.

use std::path::Path;

/// Why music cannot be made here, in words a person can act on.
pub fn unavailable_reason(models: Option<&Path>) -> String {
    match models {
        None => "no model folder is configured (start the server with --models DIR)".into(),
        Some(dir) if !dir.is_dir() => format!("the model folder {} does not exist", dir.display()),
        Some(dir) => format!(
            "this server build cannot run the models in {} yet",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_say_what_to_do() {
        assert!(unavailable_reason(None).contains("--models"));
        let missing = unavailable_reason(Some(Path::new("/no/such/models")));
        assert!(missing.contains("/no/such/models"));
    }
}
