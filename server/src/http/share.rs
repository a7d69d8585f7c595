//! `GET /t/{id}`: a track's share page. The web app renders it; the server puts Open Graph and
//! Twitter card tags (title, description, image, audio) into the page's head, so a shared link
//! previews as the painting with its music.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ekphrasis_shared::text::plain;

use super::extract::PathText;
use super::tracks;
use crate::state::AppState;
use crate::store::TrackRecord;

/// `GET /t/{id}`.
pub async fn page(
    State(state): State<AppState>,
    PathText(id): PathText,
    headers: HeaderMap,
) -> Response {
    let Some(index) = state.index_html.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><title>Ekphrasis</title><p>The web app is not built.</p>"),
        )
            .into_response();
    };
    match tracks::find(&state, &id).await {
        Ok(record) => {
            let base = base_url(state.config.public_url.as_deref(), &headers);
            let title = state
                .gallery
                .entries()
                .iter()
                .find(|e| e.image == record.image)
                .map(|e| e.title.clone());
            Html(with_preview(
                &index,
                &preview(&record, title.as_deref(), &base),
            ))
            .into_response()
        }
        // The app says the track is not here, and offers the way home.
        Err(error) => (error.status(), Html(index.to_string())).into_response(),
    }
}

/// What a link preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub title: String,
    pub description: String,
    pub url: String,
    pub image: String,
    pub audio: String,
}

/// The longest description a preview carries, in characters (link previews show about 200).
const DESCRIPTION_CHARS: usize = 300;

/// `text` made [`plain`], on one line, with at most `max` characters (an ellipsis ends a cut).
fn one_line(text: &str, max: usize) -> String {
    let words = plain(text).split_whitespace().collect::<Vec<_>>().join(" ");
    match words.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", words[..cut].trim_end()),
        None => words,
    }
}

/// The preview of `record`, with absolute URLs under `base`.
pub fn preview(record: &TrackRecord, painting: Option<&str>, base: &str) -> Preview {
    let mut mood = record.texts.emotion.as_str().to_owned();
    mood[..1].make_ascii_uppercase();
    let title = match painting {
        Some(name) => format!("{mood} music from “{name}” — Ekphrasis"),
        None => format!("{mood} music from a painting — Ekphrasis"),
    };
    let description = record
        .texts
        .description
        .clone()
        .or_else(|| record.texts.caption.clone())
        .unwrap_or_else(|| {
            format!(
                "{:.0} seconds of {} music",
                record.seconds(),
                record.texts.emotion
            )
        });
    let id = &record.id;
    Preview {
        title: plain(&title),
        description: one_line(&description, DESCRIPTION_CHARS),
        url: format!("{base}/t/{id}"),
        image: format!("{base}/api/images/{}", record.image),
        audio: format!("{base}/api/tracks/{id}/audio.wav"),
    }
}

/// `index` with its title replaced and the preview tags added to its head.
pub fn with_preview(index: &str, preview: &Preview) -> String {
    let e = escape;
    let tags = format!(
        "<meta property=\"og:type\" content=\"music.song\" />\n\
         <meta property=\"og:site_name\" content=\"Ekphrasis\" />\n\
         <meta property=\"og:title\" content=\"{title}\" />\n\
         <meta property=\"og:description\" content=\"{description}\" />\n\
         <meta property=\"og:url\" content=\"{url}\" />\n\
         <meta property=\"og:image\" content=\"{image}\" />\n\
         <meta property=\"og:audio\" content=\"{audio}\" />\n\
         <meta property=\"og:audio:type\" content=\"audio/wav\" />\n\
         <meta name=\"twitter:card\" content=\"summary_large_image\" />\n\
         <meta name=\"twitter:title\" content=\"{title}\" />\n\
         <meta name=\"twitter:description\" content=\"{description}\" />\n\
         <meta name=\"twitter:image\" content=\"{image}\" />\n",
        title = e(&preview.title),
        description = e(&preview.description),
        url = e(&preview.url),
        image = e(&preview.image),
        audio = e(&preview.audio),
    );
    let mut page = match (index.find("<title>"), index.find("</title>")) {
        (Some(start), Some(end)) if start < end => format!(
            "{}<title>{}</title>{}",
            &index[..start],
            e(&preview.title),
            &index[end + "</title>".len()..]
        ),
        _ => index.to_owned(),
    };
    match page.find("</head>") {
        Some(at) => page.insert_str(at, &tags),
        None => page.insert_str(0, &tags),
    }
    page
}

/// `https://host` for absolute links: the configured public address, else the request's Host
/// (and `X-Forwarded-Proto` from a proxy in front).
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| is_host(h))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Whether `text` is a host as a `Host` header may name one: a name or IPv4 address, or an IPv6
/// address in brackets, and an optional port. Anything else is not put into a page.
fn is_host(text: &str) -> bool {
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (text, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
    };
    port_ok && name_ok
}

/// Text made safe inside an HTML attribute or element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview() -> Preview {
        Preview {
            title: "Sad music from “Rain <at> Night” — Ekphrasis".into(),
            description: "slow \"piano\" & rain".into(),
            url: "https://x.org/t/abc".into(),
            image: "https://x.org/api/images/1".into(),
            audio: "https://x.org/api/tracks/abc/audio.wav".into(),
        }
    }

    #[test]
    fn the_head_gets_escaped_preview_tags_and_the_title() {
        let index = "<html><head><title>Ekphrasis</title><link /></head><body></body></html>";
        let page = with_preview(index, &preview());
        assert!(page.contains("<title>Sad music from “Rain &lt;at&gt; Night” — Ekphrasis</title>"));
        assert!(page.contains(
            "<meta property=\"og:description\" content=\"slow &quot;piano&quot; &amp; rain\" />"
        ));
        assert!(page.contains(
            "<meta property=\"og:audio\" content=\"https://x.org/api/tracks/abc/audio.wav\" />"
        ));
        assert!(page.contains("twitter:card"));
        assert!(page.find("og:image").unwrap() < page.find("</head>").unwrap());
        assert_eq!(page.matches("<title>").count(), 1);
    }

    #[test]
    fn absolute_links_come_from_the_public_url_or_the_host() {
        let mut headers = HeaderMap::new();
        assert_eq!(base_url(None, &headers), "http://localhost");
        headers.insert(header::HOST, "music.example.org:8080".parse().unwrap());
        assert_eq!(base_url(None, &headers), "http://music.example.org:8080");
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(None, &headers), "https://music.example.org:8080");
        assert_eq!(base_url(Some("https://e.org/"), &headers), "https://e.org");
        for (host, base) in [
            ("[::1]:8080", "http://[::1]:8080"),
            ("evil.example\"><script>", "http://localhost"),
            ("a.example/path", "http://localhost"),
            ("a.example:80:80", "http://localhost"),
            ("a.example:x", "http://localhost"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            assert_eq!(base_url(None, &headers), base, "{host}");
        }
    }

    #[test]
    fn preview_text_is_plain_one_line_and_bounded() {
        assert_eq!(
            one_line("a\u{0}b\u{202E}c\n  d\te", 100),
            "abc d e",
            "controls, overrides and line breaks"
        );
        let long = "x".repeat(DESCRIPTION_CHARS + 50);
        let cut = one_line(&long, DESCRIPTION_CHARS);
        assert_eq!(cut.chars().count(), DESCRIPTION_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("é".repeat(5).as_str(), 3), "ééé…");
    }
}
