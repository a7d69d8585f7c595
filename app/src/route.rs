//! Which page an address shows: `/` the home page (`/?again={track}` makes that track again),
//! `/t/{id}` a track's page, `/kiosk` the museum kiosk (its settings in the query string),
//! anything else a page that is not here.

use ekphrasis_shared::TrackId;

/// A page of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The home page; `again` is a track to make again with a new seed.
    Home { again: Option<TrackId> },
    /// A track's own page. The id is as written in the address, checked by the page.
    Track { id: String },
    /// The museum kiosk, with the query string that holds its settings.
    Kiosk { query: String },
    /// An address the app has no page for.
    NotFound,
}

impl Route {
    /// The page for a location's path and query string (with or without its `?`).
    pub fn parse(path: &str, query: &str) -> Self {
        let path = path.trim_end_matches('/');
        match path {
            "" | "/index.html" => Route::Home {
                again: query_value(query, "again").and_then(|id| TrackId::parse(&id).ok()),
            },
            "/kiosk" => Route::Kiosk {
                query: query.trim_start_matches('?').to_owned(),
            },
            _ => match path.strip_prefix("/t/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Route::Track { id: id.into() },
                _ => Route::NotFound,
            },
        }
    }

    /// The track id of a track page, when it is well formed.
    pub fn track_id(&self) -> Option<TrackId> {
        match self {
            Route::Track { id } => TrackId::parse(id).ok(),
            _ => None,
        }
    }
}

/// The address that makes a track again with a new seed.
pub fn again_path(id: &TrackId) -> String {
    format!("/?again={id}")
}

/// The value of `key` in a query string; only URL-safe values are expected, so nothing but a
/// comma (`%2C`, as some tools write it) is percent-decoded.
pub fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, value)| value.replace("%2C", ",").replace("%2c", ","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> TrackId {
        TrackId::from_bits(42)
    }

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(Route::parse("/", ""), Route::Home { again: None });
        assert_eq!(Route::parse("", ""), Route::Home { again: None });
        let kiosk = |query: &str| Route::Kiosk {
            query: query.into(),
        };
        assert_eq!(Route::parse("/kiosk", ""), kiosk(""));
        assert_eq!(Route::parse("/kiosk/", "?idle=30"), kiosk("idle=30"));
        assert_eq!(
            Route::parse("/t/abc", ""),
            Route::Track { id: "abc".into() }
        );
        assert_eq!(Route::parse("/t/", ""), Route::NotFound);
        assert_eq!(Route::parse("/t/a/b", ""), Route::NotFound);
        assert_eq!(Route::parse("/nowhere", ""), Route::NotFound);
    }

    #[test]
    fn track_pages_check_their_ids() {
        let page = Route::parse(&format!("/t/{}", id()), "");
        assert_eq!(page.track_id(), Some(id()));
        assert_eq!(Route::parse("/t/not-an-id", "").track_id(), None);
    }

    #[test]
    fn again_carries_a_track_to_make_again() {
        let path = again_path(&id());
        let (path, query) = path.split_once('?').expect("a query");
        assert_eq!(Route::parse(path, query), Route::Home { again: Some(id()) });
        assert_eq!(
            Route::parse("/", &format!("?x=1&again={}", id())),
            Route::Home { again: Some(id()) }
        );
        assert_eq!(
            Route::parse("/", "?again=rubbish"),
            Route::Home { again: None }
        );
    }
}
