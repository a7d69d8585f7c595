//! Which web pages may use the server's WebSocket and uploads: a browser names the page's origin
//! in `Origin`, and only the server's own (the `Host` it was reached at), `--public-url`'s and
//! those given with `--allowed-origin` are let in. A request without `Origin` (a script, `curl`)
//! is not a page and passes; `Origin: null` (sandboxed or file pages) is refused.

use axum::http::{HeaderMap, StatusCode, header};
use ekphrasis_shared::ErrorCode;

use super::AppError;
use crate::config::ServeConfig;

/// Refuses, with 403, a request from a page of another origin.
pub fn check(headers: &HeaderMap, config: &ServeConfig) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim().trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let own = authority(origin).is_some_and(|a| !host.is_empty() && a.eq_ignore_ascii_case(host));
    let listed = config
        .public_url
        .iter()
        .chain(&config.allowed_origins)
        .any(|allowed| same_origin(allowed, origin));
    if own || listed {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::BadRequest,
            format!(
                "pages from {origin} may not use this server (the server can allow them with \
                 --allowed-origin)"
            ),
        ))
    }
}

/// `host[:port]` of `scheme://host[:port]`.
fn authority(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let rest = rest.split('/').next()?;
    (matches!(scheme, "http" | "https") && !rest.is_empty()).then_some(rest)
}

/// Whether `configured` (a URL, maybe with a path) has the origin `origin`.
fn same_origin(configured: &str, origin: &str) -> bool {
    let scheme_of = |url: &str| url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    authority(configured)
        .zip(authority(origin))
        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && scheme_of(configured) == scheme_of(origin)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn own_listed_and_originless_requests_pass_others_do_not() {
        let mut config = ServeConfig::with_data("data");
        config.allowed_origins = vec!["https://museum.example.org".into()];
        config.public_url = Some("https://music.example.org/base".into());
        let host = "127.0.0.1:8080";
        for ok in [
            None,
            Some("http://127.0.0.1:8080"),
            Some("https://museum.example.org"),
            Some("https://music.example.org"),
        ] {
            assert!(check(&headers(ok, host), &config).is_ok(), "{ok:?}");
        }
        for refused in [
            "null",
            "http://evil.example",
            "http://127.0.0.1:9999",
            "http://museum.example.org",
            "https://museum.example.org.evil.example",
            "",
        ] {
            let err = check(&headers(Some(refused), host), &config).unwrap_err();
            assert_eq!(err.status(), StatusCode::FORBIDDEN, "{refused}");
        }
    }
}
