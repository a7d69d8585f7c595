//! The museum kiosk's settings, read from its address, e.g.
//! `/kiosk?idle=90&items=carnival,moonlit-lake&volume=0.6&upload=1&dwell=20&speak=1`.
//! A value that cannot be read keeps its default, so a typo never leaves a blank screen.

use ekphrasis_shared::api::GalleryItem;
use ekphrasis_shared::ids::GalleryId;

use crate::route::query_value;

/// Seconds without a touch before a visit ends, unless the address says otherwise.
pub const DEFAULT_IDLE_SECONDS: f64 = 60.0;
/// Shortest and longest idle timeout accepted.
const IDLE_RANGE: (f64, f64) = (2.0, 3600.0);
/// Shortest and longest time a painting stays in the attract loop.
const DWELL_RANGE: (f64, f64) = (2.0, 600.0);
/// How long a painting stays when its music's length does not say.
pub const DEFAULT_DWELL_SECONDS: f64 = 20.0;
/// The longest a painting stays when it stays as long as its music.
const LONGEST_MUSIC_DWELL: f64 = 45.0;
/// Volume unless the address says otherwise.
const DEFAULT_VOLUME: f32 = 0.8;

/// How the kiosk behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct KioskSettings {
    /// Seconds without a touch before the kiosk goes back to its attract loop (`idle`).
    pub idle_seconds: f64,
    /// The gallery paintings to show, in this order (`items`, comma-separated ids); `None` for
    /// all of them.
    pub items: Option<Vec<GalleryId>>,
    /// Loudness of everything the kiosk plays, from 0 to 1 (`volume`).
    pub volume: f32,
    /// Whether visitors may upload or photograph a painting of their own (`upload`).
    pub upload: bool,
    /// Seconds each painting stays in the attract loop (`dwell`); `None`: as long as its music.
    pub dwell_seconds: Option<f64>,
    /// Whether the painting is read aloud before its music plays (`speak`).
    pub speak: bool,
}

impl Default for KioskSettings {
    fn default() -> Self {
        Self {
            idle_seconds: DEFAULT_IDLE_SECONDS,
            items: None,
            volume: DEFAULT_VOLUME,
            upload: false,
            dwell_seconds: None,
            speak: false,
        }
    }
}

impl KioskSettings {
    /// The settings in a query string (with or without its `?`).
    pub fn from_query(query: &str) -> Self {
        let defaults = Self::default();
        let number = |key| query_value(query, key).and_then(|v| v.parse::<f64>().ok());
        let flag = |key| query_value(query, key).and_then(|v| parse_flag(&v));
        Self {
            idle_seconds: number("idle")
                .filter(|v| v.is_finite())
                .map_or(defaults.idle_seconds, |v| {
                    v.clamp(IDLE_RANGE.0, IDLE_RANGE.1)
                }),
            items: query_value(query, "items").and_then(|list| {
                let ids: Vec<GalleryId> = list
                    .split([',', '+', ' '])
                    .filter_map(|id| GalleryId::parse(id.trim()).ok())
                    .collect();
                (!ids.is_empty()).then_some(ids)
            }),
            volume: number("volume")
                .filter(|v| v.is_finite())
                .map_or(defaults.volume, |v| v.clamp(0.0, 1.0) as f32),
            upload: flag("upload").unwrap_or(defaults.upload),
            dwell_seconds: number("dwell")
                .filter(|v| v.is_finite())
                .map(|v| v.clamp(DWELL_RANGE.0, DWELL_RANGE.1)),
            speak: flag("speak").unwrap_or(defaults.speak),
        }
    }

    /// The paintings the kiosk shows: those named, in the order named (ids the gallery does
    /// not have are skipped), or the whole gallery when none are named or none of them exist.
    pub fn select(&self, gallery: &[GalleryItem]) -> Vec<GalleryItem> {
        let chosen: Vec<GalleryItem> = self
            .items
            .iter()
            .flatten()
            .filter_map(|id| gallery.iter().find(|item| &item.id == id).cloned())
            .collect();
        if chosen.is_empty() {
            gallery.to_vec()
        } else {
            chosen
        }
    }

    /// How long a painting stays in the attract loop, given its music's length when known.
    pub fn dwell_for(&self, music_seconds: Option<f64>) -> f64 {
        match (self.dwell_seconds, music_seconds) {
            (Some(dwell), _) => dwell,
            (None, Some(music)) if music.is_finite() && music > 0.0 => {
                music.clamp(DWELL_RANGE.0, LONGEST_MUSIC_DWELL)
            }
            (None, _) => DEFAULT_DWELL_SECONDS,
        }
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> GalleryItem {
        GalleryItem {
            id: GalleryId::parse(id).expect("a slug"),
            title: id.to_owned(),
            artist: "A".into(),
            year: None,
            credit: "C".into(),
            licence: "CC0-1.0".into(),
            alt: String::new(),
            image_url: format!("/api/images/{id}"),
            width: 10,
            height: 10,
            track: None,
        }
    }

    #[test]
    fn an_empty_address_gives_the_defaults() {
        assert_eq!(KioskSettings::from_query(""), KioskSettings::default());
        assert_eq!(KioskSettings::from_query("?"), KioskSettings::default());
        let settings = KioskSettings::default();
        assert_eq!(settings.idle_seconds, 60.0);
        assert!(!settings.upload);
        assert!(!settings.speak);
    }

    #[test]
    fn every_setting_is_read() {
        let settings = KioskSettings::from_query(
            "?idle=90&items=carnival,moonlit-lake&volume=0.25&upload=1&dwell=12.5&speak=yes",
        );
        assert_eq!(settings.idle_seconds, 90.0);
        let ids: Vec<&str> = settings
            .items
            .iter()
            .flatten()
            .map(|i| i.as_str())
            .collect();
        assert_eq!(ids, ["carnival", "moonlit-lake"]);
        assert_eq!(settings.volume, 0.25);
        assert!(settings.upload);
        assert_eq!(settings.dwell_seconds, Some(12.5));
        assert!(settings.speak);
    }

    #[test]
    fn values_out_of_range_are_clamped_and_unreadable_ones_ignored() {
        let settings =
            KioskSettings::from_query("idle=0.1&volume=7&dwell=100000&upload=maybe&speak=off");
        assert_eq!(settings.idle_seconds, 2.0);
        assert_eq!(settings.volume, 1.0);
        assert_eq!(settings.dwell_seconds, Some(600.0));
        assert!(!settings.upload);
        assert!(!settings.speak);
        let unreadable = KioskSettings::from_query("idle=soon&volume=NaN&dwell=inf&items=,,BAD");
        assert_eq!(unreadable, KioskSettings::default());
    }

    #[test]
    fn named_items_are_shown_in_their_order_and_unknown_ones_skipped() {
        let gallery = [item("a"), item("b"), item("c")];
        let settings = KioskSettings::from_query("items=c,nope,a");
        let ids: Vec<String> = settings
            .select(&gallery)
            .iter()
            .map(|i| i.id.to_string())
            .collect();
        assert_eq!(ids, ["c", "a"]);
        let none_known = KioskSettings::from_query("items=x,y");
        assert_eq!(none_known.select(&gallery).len(), 3);
        assert_eq!(KioskSettings::default().select(&gallery).len(), 3);
    }

    #[test]
    fn a_painting_stays_as_long_as_its_music_unless_told() {
        let settings = KioskSettings::default();
        assert_eq!(settings.dwell_for(Some(15.0)), 15.0);
        assert_eq!(settings.dwell_for(Some(0.5)), 2.0);
        assert_eq!(settings.dwell_for(Some(120.0)), 45.0);
        assert_eq!(settings.dwell_for(None), DEFAULT_DWELL_SECONDS);
        let fixed = KioskSettings::from_query("dwell=8");
        assert_eq!(fixed.dwell_for(Some(15.0)), 8.0);
    }
}
