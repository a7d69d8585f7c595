//! The home page's state, kept while the person visits other pages: the chosen painting, the
//! form, the current piece and the player; and what the page does with them (upload a painting,
//! compose, read the painting first, cancel, pick a gallery painting, play a stored piece, make
//! a track again, read the painting aloud before its music). A piece whose connection drops is
//! picked up again on the next one, from the audio already here ([`crate::resume`]). The kiosk
//! uses it for visitors' own paintings.

use ekphrasis_shared::api::GalleryItem;
use ekphrasis_shared::{ClientMsg, ErrorCode, JobId, TrackId};
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::again::again;
use crate::api;
use crate::audio::ReceivedAudio;
use crate::compose::{Blocker, Busy, blocker};
use crate::form::ComposeForm;
use crate::job::{Job, JobKind};
use crate::painting::Painting;
use crate::player::Player;
use crate::problem::Problem;
use crate::resume::{HELD_RETRY_MS, Link};
use crate::upload::{UploadState, check_file};
use crate::ws::{Connection, Incoming};
use crate::{speech, spoken, wav};

/// The home page's state and actions.
#[derive(Clone, Copy)]
pub struct Studio {
    pub painting: RwSignal<Painting>,
    pub form: RwSignal<ComposeForm>,
    pub job: RwSignal<Job>,
    pub player: Player,
    pub connection: Connection,
    /// A stored piece is being fetched.
    loading: RwSignal<bool>,
    /// Counts loads, so that a later one wins over an earlier one still under way.
    load_attempt: StoredValue<u32>,
    /// Compose as soon as the connection allows (a track being made again).
    compose_when_ready: RwSignal<bool>,
    /// Read the painting aloud before its music plays.
    pub read_aloud: RwSignal<bool>,
    /// Loudness of what is read aloud, from 0 to 1.
    pub speech_volume: RwSignal<f32>,
    /// Counts uploads, so that a later choice wins over an earlier one still under way.
    upload_attempt: StoredValue<u32>,
    /// The chosen file's preview address, to be let go when another is chosen.
    object_url: StoredValue<Option<String>>,
}

impl Studio {
    /// The state, with the connection to the server.
    pub fn new() -> Self {
        let job = RwSignal::new(Job::default());
        let player = Player::new();
        let connection = Connection::open(move |incoming, connection| {
            receive(incoming, connection, job, player)
        });
        let studio = Studio {
            painting: RwSignal::new(Painting::Nothing),
            form: RwSignal::new(ComposeForm::default()),
            job,
            player,
            connection,
            loading: RwSignal::new(false),
            load_attempt: StoredValue::new(0),
            compose_when_ready: RwSignal::new(false),
            read_aloud: RwSignal::new(false),
            speech_volume: RwSignal::new(1.0),
            upload_attempt: StoredValue::new(0),
            object_url: StoredValue::new(None),
        };
        Effect::new(move |_| {
            if studio.compose_when_ready.get() && studio.blocker().is_none() {
                studio.compose_when_ready.set(false);
                studio.compose();
            }
        });
        // The description a reading of the painting wrote goes into the text box, once.
        let filled_from = StoredValue::new(None::<JobId>);
        Effect::new(move |_| {
            let written = job.with(|job| {
                let id = job.id?;
                let text = (job.kind == JobKind::Describe).then(|| job.description())??;
                Some((id, text.to_owned()))
            });
            if let Some((id, text)) = written
                && filled_from.get_value() != Some(id)
            {
                filled_from.set_value(Some(id));
                studio.form.update(|form| form.description = Some(text));
            }
        });
        // The painting is read aloud once per piece, before its music.
        let read_for = StoredValue::new(None::<String>);
        Effect::new(move |_| {
            if !studio.read_aloud.get() {
                return;
            }
            let (key, text) = job.with(|job| (reading_key(job), spoken::reading(job)));
            let (Some(key), Some(text)) = (key, text) else {
                return;
            };
            if read_for.get_value().as_ref() == Some(&key) {
                return;
            }
            read_for.set_value(Some(key));
            player.hold_for_reading();
            speech::speak(&text, studio.speech_volume.get_untracked(), move || {
                player.release_reading()
            });
        });
        studio
    }

    /// Uploads a chosen file, showing its preview meanwhile; a file the server would refuse
    /// is refused here, in plain words.
    pub fn upload(&self, file: web_sys::File) {
        let studio = *self;
        self.upload_attempt.update_value(|count| *count += 1);
        let this_attempt = self.upload_attempt.get_value();
        if let Some(old) = self.object_url.get_value() {
            // Only fails for a URL that is already gone.
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        if let Err(problem) = check_file(&file.type_(), file.size()) {
            self.object_url.set_value(None);
            self.choose(Painting::Upload {
                state: UploadState::Failed(problem),
                preview: None,
            });
            return;
        }
        let preview = web_sys::Url::create_object_url_with_blob(&file).ok();
        self.object_url.set_value(preview.clone());
        self.choose(Painting::Upload {
            state: UploadState::Uploading,
            preview: preview.clone(),
        });
        spawn_local(async move {
            let result = api::upload_image(&file).await;
            // A later choice wins over this one.
            if studio.upload_attempt.get_value() != this_attempt
                || !studio
                    .painting
                    .with_untracked(|p| matches!(p, Painting::Upload { .. }))
            {
                return;
            }
            let (state, preview) = match result {
                Ok(image) => (UploadState::Uploaded(image), preview),
                Err(error) => {
                    // A refusal is the page's to show, in plain words; only the unexpected
                    // goes to the console.
                    if !matches!(error, api::ApiError::Refused { .. }) {
                        warn!("upload failed: {error}");
                    }
                    // No preview of a file the server would not take (it may not be an image).
                    if let Some(url) = studio.object_url.get_value() {
                        let _ = web_sys::Url::revoke_object_url(&url);
                    }
                    studio.object_url.set_value(None);
                    (UploadState::Failed(error.problem()), None)
                }
            };
            studio.painting.set(Painting::Upload { state, preview });
        });
    }

    /// Composes as soon as the painting is uploaded and the connection allows.
    pub fn compose_when_ready(&self) {
        self.compose_when_ready.set(true);
    }

    /// Stops reading aloud; the music, if any, plays.
    pub fn stop_reading(&self) {
        speech::cancel();
        self.player.release_reading();
    }

    /// What the page is in the middle of (tracked).
    pub fn busy(&self) -> Busy {
        if self.job.with(Job::is_active) {
            Busy::Working
        } else if self.loading.get() {
            Busy::Loading
        } else {
            Busy::Free
        }
    }

    /// What keeps Compose and Read the painting first from being pressed (tracked).
    pub fn blocker(&self) -> Option<Blocker> {
        let connected = self.connection.is_connected();
        let setting_problem = self.form.with(ComposeForm::problem);
        let busy = self.busy();
        self.painting
            .with(|painting| blocker(connected, painting, setting_problem, busy))
    }

    /// Asks for music from the chosen painting with the form's settings.
    pub fn compose(&self) {
        let Some(image) = self.painting.with_untracked(Painting::image) else {
            return;
        };
        // The button is disabled while a setting is wrong; the field says which.
        let Ok(request) = self.form.with_untracked(|form| form.request(image)) else {
            return;
        };
        let seconds = request.seconds.map(f64::from);
        self.stop_reading();
        self.player.unlock();
        self.forget_loading();
        match self.connection.send(ClientMsg::Generate(request)) {
            Ok(()) => {
                self.player.expect(seconds);
                self.job.set(Job::requested(JobKind::Compose));
            }
            Err(_) => self.job.set(Job::failed(Problem::network())),
        }
    }

    /// Asks the server to read the painting (emotion, caption, description) without composing.
    pub fn describe(&self) {
        let Some(image) = self.painting.with_untracked(Painting::image) else {
            return;
        };
        let Ok(request) = self
            .form
            .with_untracked(|form| form.describe_request(image))
        else {
            return;
        };
        self.forget_loading();
        self.stop_reading();
        match self.connection.send(ClientMsg::Describe(request)) {
            Ok(()) => {
                self.player.clear();
                self.job.set(Job::requested(JobKind::Describe));
            }
            Err(_) => self.job.set(Job::failed(Problem::network())),
        }
    }

    /// Stops the piece being made. While the page reconnects, the cancel follows the resume
    /// on the next connection.
    pub fn cancel(&self) {
        self.stop_reading();
        let lost = self.job.with_untracked(|job| job.link() == Link::Lost);
        if lost || self.connection.send(ClientMsg::Cancel).is_ok() {
            self.job.update(Job::cancelling);
            self.player.stop();
        }
    }

    /// Makes `painting` the one music is made from; what was shown about the last one goes.
    pub fn choose(&self, painting: Painting) {
        self.stop_reading();
        self.painting.set(painting);
        self.form.update(|form| form.description = None);
        if !self.job.with_untracked(Job::is_active) {
            self.forget_loading();
            self.job.set(Job::default());
            self.player.clear();
        }
    }

    /// Picks a gallery painting; one with a piece made for it earlier plays that piece at once.
    pub fn pick(&self, item: GalleryItem) {
        let track = item.track.clone();
        let free = !self.job.with_untracked(Job::is_active);
        self.choose(Painting::Gallery(item));
        if let (Some(track), true) = (track, free) {
            self.player.unlock();
            self.play_stored(track);
        }
    }

    /// Fetches a stored piece, shows its stages and plays its WAV.
    pub fn play_stored(&self, track: TrackId) {
        let studio = *self;
        let attempt = self.next_attempt();
        self.loading.set(true);
        self.player.expect(None);
        spawn_local(async move {
            let outcome = async {
                let info = api::track(&track).await.map_err(|e| e.problem())?;
                if studio.is_current(attempt) {
                    studio.job.set(Job::from_track(&info));
                }
                let bytes = api::bytes(&info.wav_url).await.map_err(|e| e.problem())?;
                wav::decode(&bytes).map_err(|error| {
                    warn!("the stored track's audio: {error}");
                    Problem::unplayable_audio()
                })
            }
            .await;
            if !studio.is_current(attempt) {
                return;
            }
            studio.loading.set(false);
            match outcome {
                Ok(wav) => studio.player.play_whole(wav.format, wav.samples),
                Err(problem) => {
                    studio.player.clear();
                    studio.job.set(Job::failed(problem));
                }
            }
        });
    }

    /// Makes a stored track again: its painting and settings, a new seed, composed as soon as
    /// the connection is ready.
    pub fn make_again(&self, track: TrackId) {
        let studio = *self;
        let attempt = self.next_attempt();
        self.loading.set(true);
        spawn_local(async move {
            let found = async {
                let info = api::track(&track).await.map_err(|error| {
                    if error.is_not_found() {
                        Problem::missing_track()
                    } else {
                        error.problem()
                    }
                })?;
                // Without the gallery the stored image is used, which works just as well.
                let gallery = api::gallery().await.unwrap_or_default();
                again(&info, &gallery).ok_or_else(Problem::missing_track)
            }
            .await;
            if !studio.is_current(attempt) {
                return;
            }
            studio.loading.set(false);
            match found {
                Ok(again) => {
                    studio.choose(again.painting);
                    studio.form.set(again.form);
                    studio.compose_when_ready.set(true);
                }
                Err(problem) => studio.job.set(Job::failed(problem)),
            }
        });
    }

    fn next_attempt(&self) -> u32 {
        self.load_attempt.update_value(|count| *count += 1);
        self.load_attempt.get_value()
    }

    fn is_current(&self, attempt: u32) -> bool {
        self.load_attempt.get_value() == attempt
    }

    /// Lets a load under way finish unseen.
    fn forget_loading(&self) {
        self.next_attempt();
        self.loading.set(false);
        self.compose_when_ready.set(false);
    }
}

/// Which piece a reading aloud belongs to: the job, or the stored track.
fn reading_key(job: &Job) -> Option<String> {
    job.id.map(|id| format!("job {id}")).or_else(|| {
        job.finished()
            .map(|finished| format!("track {}", finished.track))
    })
}

/// Files what the connection passes on: audio to the player, the rest to the piece; when the
/// connection drops the piece waits for the next one, which asks for it again.
fn receive(incoming: Incoming, connection: Connection, job: RwSignal<Job>, player: Player) {
    match incoming {
        Incoming::Message(message) => {
            let composing = job.with_untracked(|job| job.kind == JobKind::Compose);
            let was_active = job.with_untracked(Job::is_active);
            let was_asked = job.with_untracked(|job| job.link() == Link::Asked);
            match &message {
                ekphrasis_shared::ServerMsg::Accepted { settings, .. } if composing => {
                    player.set_expected(f64::from(settings.seconds));
                }
                // The format a resume repeats keeps what was received.
                ekphrasis_shared::ServerMsg::AudioFormat {
                    sample_rate,
                    channels,
                    ..
                } if job.try_update(Job::takes_format).unwrap_or(true) => {
                    player.begin(crate::audio::AudioFormat {
                        sample_rate: *sample_rate,
                        channels: *channels,
                    });
                }
                _ => {}
            }
            job.update(|job| job.apply(message.clone()));
            // The old connection still held the piece at the server: ask again in a while.
            if was_asked && job.with_untracked(|job| job.link() == Link::Lost) {
                spawn_local(async move {
                    TimeoutFuture::new(HELD_RETRY_MS).await;
                    resume(connection, job, player);
                });
            }
            // The piece ended one way or another: what arrived plays out.
            let ended = was_active && !job.with_untracked(Job::is_active);
            if ended && composing {
                let cancelled = matches!(
                    message,
                    ekphrasis_shared::ServerMsg::Error {
                        code: ErrorCode::Cancelled,
                        ..
                    }
                );
                if !cancelled {
                    player.finish();
                }
            }
        }
        Incoming::Audio(frame) => player.push(&frame),
        Incoming::UnreadableAudio => player.note_unreadable(),
        Incoming::Dropped => {
            // A piece the server took goes on there, and what arrived goes on playing;
            // otherwise what arrived plays out.
            let was_active = job.with_untracked(Job::is_active);
            let goes_on = job.try_update(Job::connection_lost).unwrap_or(false);
            if was_active && !goes_on {
                player.finish();
            }
        }
        Incoming::Connected => resume(connection, job, player),
    }
}

/// Asks for the piece the last connection lost, from the audio frames already here.
fn resume(connection: Connection, job: RwSignal<Job>, player: Player) {
    let frames = player.audio().with_untracked(ReceivedAudio::next_frame);
    let messages = job
        .try_update(|job| job.resume_messages(frames))
        .unwrap_or_default();
    for message in messages {
        if connection.send(message).is_err() {
            // Gone again: the next connection asks.
            job.update(|job| {
                job.connection_lost();
            });
            return;
        }
    }
}
