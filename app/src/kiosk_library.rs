//! The kiosk's pieces: each gallery painting's stored track, its details and its audio, fetched
//! once and kept in memory, so that the kiosk plays on while the network or the server is away.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use ekphrasis_shared::TrackId;
use ekphrasis_shared::api::{GalleryItem, TrackInfo};
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::prelude::*;
use web_sys::AudioBuffer;

use crate::api;

/// How often a second asker looks whether a piece on its way has arrived, in milliseconds.
const WAIT_MS: u32 = 50;
use crate::crossfader::Crossfader;
use crate::problem::Problem;
use crate::wav;

/// A stored piece, ready to play.
pub struct Piece {
    pub info: TrackInfo,
    pub buffer: AudioBuffer,
    /// Its length in seconds.
    pub seconds: f64,
}

/// The pieces fetched so far.
#[derive(Clone, Copy)]
pub struct Library {
    pieces: StoredValue<HashMap<TrackId, Rc<Piece>>, LocalStorage>,
    fetching: StoredValue<HashSet<TrackId>>,
    /// Counts arrivals, so that whoever reads the library sees new pieces.
    arrivals: RwSignal<u32>,
}

impl Library {
    pub fn new() -> Self {
        Self {
            pieces: StoredValue::new_local(HashMap::new()),
            fetching: StoredValue::new(HashSet::new()),
            arrivals: RwSignal::new(0),
        }
    }

    /// The piece, once fetched (tracked: a later arrival is seen).
    pub fn get(&self, track: &TrackId) -> Option<Rc<Piece>> {
        self.arrivals.track();
        self.pieces.with_value(|pieces| pieces.get(track).cloned())
    }

    /// How many of `items`' pieces are here (tracked).
    pub fn count(&self, items: &[GalleryItem]) -> usize {
        items
            .iter()
            .filter_map(|item| item.track.as_ref())
            .filter(|track| self.get(track).is_some())
            .count()
    }

    /// The piece, once fetched (untracked).
    pub fn get_untracked(&self, track: &TrackId) -> Option<Rc<Piece>> {
        self.pieces.with_value(|pieces| pieces.get(track).cloned())
    }

    /// Fetches the piece unless it is here; when it is already on its way, waits for it.
    pub async fn fetch(&self, track: TrackId, crossfader: Crossfader) -> Result<(), Problem> {
        if self.get_untracked(&track).is_some() {
            return Ok(());
        }
        let mut first = false;
        self.fetching
            .update_value(|fetching| first = fetching.insert(track.clone()));
        if !first {
            while self
                .fetching
                .with_value(|fetching| fetching.contains(&track))
            {
                TimeoutFuture::new(WAIT_MS).await;
            }
            return match self.get_untracked(&track) {
                Some(_) => Ok(()),
                None => Err(Problem::network()),
            };
        }
        let fetched = fetch_piece(&track, crossfader).await;
        let outcome = fetched.map(|piece| {
            self.pieces.update_value(|pieces| {
                pieces.insert(track.clone(), Rc::new(piece));
            });
            self.arrivals.update(|count| *count += 1);
        });
        // Those waiting for it look once it is stored (or has failed).
        self.fetching.update_value(|fetching| {
            fetching.remove(&track);
        });
        outcome
    }

    /// Fetches every missing piece of `items`, one after another; stops at the first failure
    /// (the network is probably away: the caller tries again later). Says whether every piece
    /// is here.
    pub async fn fetch_all(&self, items: &[GalleryItem], crossfader: Crossfader) -> bool {
        for track in items.iter().filter_map(|item| item.track.clone()) {
            if let Err(problem) = self.fetch(track, crossfader).await {
                warn!("a kiosk piece could not be fetched: {}", problem.summary);
                return false;
            }
        }
        true
    }
}

async fn fetch_piece(track: &TrackId, crossfader: Crossfader) -> Result<Piece, Problem> {
    let info = api::track(track).await.map_err(|e| e.problem())?;
    let bytes = api::bytes(&info.wav_url).await.map_err(|e| e.problem())?;
    let decoded = wav::decode(&bytes).map_err(|error| {
        warn!("a kiosk piece's audio: {error}");
        Problem::unplayable_audio()
    })?;
    let frames = decoded.samples.len() / usize::from(decoded.format.channels.max(1));
    let seconds = frames as f64 / f64::from(decoded.format.sample_rate.max(1));
    let buffer = crossfader
        .buffer(decoded.format, &decoded.samples)
        .ok_or_else(Problem::unplayable_audio)?;
    Ok(Piece {
        info,
        buffer,
        seconds,
    })
}
