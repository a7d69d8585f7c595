//! Security headers on every response: `X-Content-Type-Options: nosniff`, a referrer policy,
//! frame protection, and a Content-Security-Policy the app and the kiosk work under. The one
//! inline script Trunk writes into `index.html` (the module that starts the wasm app) is allowed
//! by its SHA-256, computed from the built page when the server starts, so no other inline
//! script can run.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy for a server whose app page is `index_html` (if built).
pub fn content_security_policy(index_html: Option<&str>) -> String {
    let hashes: String = index_html
        .map(inline_scripts)
        .unwrap_or_default()
        .iter()
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    )
}

/// The bodies of the page's inline `<script>` elements (those without `src`).
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body = &after[tag_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            scripts.push(&body[..close]);
        }
        rest = &body[close..];
    }
    scripts
}

/// Adds the headers to `response` (a header a handler set itself is kept).
pub fn add(mut response: Response, policy: &HeaderValue) -> Response {
    let headers = response.headers_mut();
    let set: [(HeaderName, HeaderValue); 4] = [
        (header::CONTENT_SECURITY_POLICY, policy.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
        (
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        ),
    ];
    for (name, value) in set {
        headers.entry(name).or_insert(value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_allowed_by_hash_and_sourced_ones_by_origin() {
        let page = "<head><script type=\"module\">\nimport init from '/app.js';\n</script>\
                    <script src=\"/x.js\"></script></head>";
        assert_eq!(inline_scripts(page), ["\nimport init from '/app.js';\n"]);
        let policy = content_security_policy(Some(page));
        let digest = Sha256::digest("\nimport init from '/app.js';\n".as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert!(policy.contains("frame-ancestors 'self'"));
        assert!(!content_security_policy(None).contains("sha256"));
    }
}
