//! The current piece as the server reports it: its place in the queue, the stages as they start
//! and finish with their results, and how it ended; or a stored piece, shown the same way. A
//! piece whose connection dropped is picked up again on the next one ([`crate::resume`]); the
//! messages the server repeats then change nothing. Audio samples are kept apart, in
//! [`crate::audio`].

use ekphrasis_shared::api::TrackInfo;
use ekphrasis_shared::{
    ClientMsg, ErrorCode, JobId, ServerMsg, Settings, Stage, StageResult, StageState, TrackId,
    Variant,
};

use crate::playback::PlayerView;
use crate::problem::Problem;
use crate::resume::{Follow, Link, Refused};

/// The status while the page reconnects to pick its piece up again.
const RECONNECTING: &str = "Reconnecting to the server… the piece goes on there meanwhile.";

/// Where the piece is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Phase {
    /// Nothing asked for yet.
    #[default]
    Idle,
    /// The request is sent; no answer yet.
    Requested,
    /// Accepted and waiting its turn at this place in the queue (1 = next).
    Queued {
        place: u32,
    },
    /// Being made now.
    Running,
    /// Cancel was sent; waiting for the server to confirm.
    Cancelling,
    Cancelled,
    /// A `describe` request finished: the stages before composing have reported.
    Described,
    Done(Finished),
    Failed(Problem),
}

/// What was asked of the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobKind {
    /// Make music (`generate`).
    #[default]
    Compose,
    /// Only read the painting (`describe`).
    Describe,
}

/// A finished piece.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub track: TrackId,
    /// Where the piece's own page is, e.g. `/t/{track}`.
    pub share_path: String,
    pub seconds: f32,
    /// True for a piece made earlier and loaded from the server, not composed just now.
    pub stored: bool,
}

impl Phase {
    /// The machine-readable name, for `data-phase`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Requested => "requested",
            Phase::Queued { .. } => "queued",
            Phase::Running => "running",
            Phase::Cancelling => "cancelling",
            Phase::Cancelled => "cancelled",
            Phase::Described => "described",
            Phase::Done(_) => "done",
            Phase::Failed(_) => "failed",
        }
    }

    /// The phase in words for the status line, saying what comes next while nothing runs.
    pub fn words_with(&self, painting_chosen: bool) -> String {
        match self {
            Phase::Idle if painting_chosen => "The painting is ready: press Compose music to \
                                               hear it. What the server finds in it appears \
                                               here as it happens."
                .to_owned(),
            phase => phase.words(),
        }
    }

    /// The phase in words, for the status line.
    pub fn words(&self) -> String {
        match self {
            Phase::Idle => "Choose a painting, then press Compose music. What the server finds \
                            in it appears here as it happens."
                .to_owned(),
            Phase::Requested => "Asking the server…".to_owned(),
            Phase::Queued { place } => format!("Waiting in line: place {place} in the queue."),
            Phase::Running => "Composing…".to_owned(),
            Phase::Cancelling => "Cancelling…".to_owned(),
            Phase::Cancelled => "Cancelled.".to_owned(),
            Phase::Described => "The painting has been read. Change the description if you \
                                 like, then compose."
                .to_owned(),
            Phase::Done(finished) if finished.stored => format!(
                "A piece made earlier for this painting: {:.1} s of music.",
                finished.seconds
            ),
            Phase::Done(finished) => format!("Finished: {:.1} s of music.", finished.seconds),
            Phase::Failed(_) => "Stopped.".to_owned(),
        }
    }
}

/// One stage as last reported.
#[derive(Clone, Debug, PartialEq)]
pub struct StageReport {
    pub stage: Stage,
    pub state: StageState,
    pub result: Option<StageResult>,
}

/// How a stage stands, for its row in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageStatus {
    Waiting,
    Working,
    Done,
    /// It had started when the piece stopped.
    Stopped,
    /// The piece stopped before it began.
    NotReached,
}

impl StageStatus {
    /// The status in words.
    pub fn words(self) -> &'static str {
        match self {
            StageStatus::Waiting => "waiting",
            StageStatus::Working => "working…",
            StageStatus::Done => "done",
            StageStatus::Stopped => "stopped",
            StageStatus::NotReached => "not reached",
        }
    }

    /// The machine-readable name, for `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            StageStatus::Waiting => "waiting",
            StageStatus::Working => "working",
            StageStatus::Done => "done",
            StageStatus::Stopped => "stopped",
            StageStatus::NotReached => "not-reached",
        }
    }
}

/// The current piece.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Job {
    pub kind: JobKind,
    pub phase: Phase,
    /// Set once the server accepts the request.
    pub id: Option<JobId>,
    /// The settings the server resolved the request to.
    pub settings: Option<Settings>,
    /// True when the musical description is the person's own, not the language model's.
    pub own_description: bool,
    stages: Vec<StageReport>,
    /// Following the piece across connections.
    follow: Follow,
}

impl Job {
    /// A piece (or a reading of the painting) just asked for.
    pub fn requested(kind: JobKind) -> Self {
        Job {
            kind,
            phase: Phase::Requested,
            ..Job::default()
        }
    }

    /// A stored piece, with every stage done.
    pub fn from_track(info: &TrackInfo) -> Self {
        let done = |stage, result| StageReport {
            stage,
            state: StageState::Done,
            result,
        };
        let mut stages = vec![done(
            Stage::Emotion,
            Some(StageResult::Emotion {
                label: info.emotion,
                probabilities: info.probabilities,
                labeller: info.labeller.clone(),
            }),
        )];
        if let Some(text) = &info.caption {
            stages.push(done(
                Stage::Caption,
                Some(StageResult::Caption { text: text.clone() }),
            ));
        }
        if let Some(text) = &info.description {
            stages.push(done(
                Stage::Enhance,
                Some(StageResult::Description {
                    text: text.clone(),
                    fallback: false,
                }),
            ));
        }
        stages.push(done(Stage::Compose, None));
        Job {
            kind: JobKind::Compose,
            phase: Phase::Done(Finished {
                track: info.id.clone(),
                share_path: info.share_path.clone(),
                seconds: info.seconds,
                stored: true,
            }),
            id: None,
            own_description: info.settings.description.is_some(),
            settings: Some(info.settings.clone()),
            stages,
            follow: Follow::default(),
        }
    }

    /// How the piece is followed across connections.
    pub fn link(&self) -> Link {
        self.follow.link()
    }

    /// Whether the page is reconnecting to pick the piece up again.
    pub fn is_reconnecting(&self) -> bool {
        self.is_active() && self.link() != Link::Live
    }

    /// The status line: what the phase says, or that the page is reconnecting.
    pub fn status_words(&self, painting_chosen: bool) -> String {
        if self.is_reconnecting() {
            return RECONNECTING.to_owned();
        }
        self.phase.words_with(painting_chosen)
    }

    /// The stages this piece goes through, in order: those its variant needs, and for a
    /// reading of the painting, not the composing.
    pub fn stages_shown(&self) -> Vec<Stage> {
        let variant = self
            .settings
            .as_ref()
            .map_or(Variant::Lyrical, |s| s.variant);
        let mut stages = stages_for(variant);
        if self.kind == JobKind::Describe {
            stages.retain(|stage| *stage != Stage::Compose);
        }
        stages
    }

    /// While the piece is being made, where it is: the step, and once music arrives how much of
    /// it is made and, when known, how soon it starts playing (`player`). `None` otherwise.
    pub fn progress_words(&self, player: &PlayerView) -> Option<String> {
        if self.is_reconnecting() {
            return Some(RECONNECTING.to_owned());
        }
        if self.phase != Phase::Running {
            return None;
        }
        let stages = self.stages_shown();
        let (step, stage) = stages
            .iter()
            .enumerate()
            .rev()
            .find(|(_, stage)| self.stage(**stage).is_some())?;
        let doing = match stage {
            Stage::Emotion => "Feeling the painting's emotion",
            Stage::Caption => "Describing the painting",
            Stage::Enhance => "Imagining its music",
            Stage::Compose => "Composing",
        };
        let mut words = format!("Step {} of {}: {doing}", step + 1, stages.len());
        if *stage == Stage::Compose && player.received > 0.0 {
            words.push_str(&format!(
                ", {:.0} of {:.0} seconds made",
                player.received.floor(),
                player.span()
            ));
            if let Some(wait) = player.starts_in.filter(|wait| *wait >= 1.5) {
                words.push_str(&format!("; it starts in about {} s", wait.ceil() as u64));
            }
        }
        words.push('…');
        Some(words)
    }

    /// The caption the server wrote, once it has.
    pub fn caption(&self) -> Option<&str> {
        match self.stage(Stage::Caption)?.result.as_ref()? {
            StageResult::Caption { text } => Some(text),
            _ => None,
        }
    }

    /// The musical description the server wrote, once it has.
    pub fn description(&self) -> Option<&str> {
        match self.stage(Stage::Enhance)?.result.as_ref()? {
            StageResult::Description { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The finished piece, if it is one.
    pub fn finished(&self) -> Option<&Finished> {
        match &self.phase {
            Phase::Done(finished) => Some(finished),
            _ => None,
        }
    }

    /// A piece that could not even be asked for.
    pub fn failed(problem: Problem) -> Self {
        Job {
            phase: Phase::Failed(problem),
            ..Job::default()
        }
    }

    /// Whether the server is working on it (or about to).
    pub fn is_active(&self) -> bool {
        matches!(
            self.phase,
            Phase::Requested | Phase::Queued { .. } | Phase::Running | Phase::Cancelling
        )
    }

    /// Whether the server took the request, so that its stages are worth listing.
    pub fn was_accepted(&self) -> bool {
        self.id.is_some() || !self.stages.is_empty()
    }

    /// What the server last said about a stage.
    pub fn stage(&self, stage: Stage) -> Option<&StageReport> {
        self.stages.iter().find(|report| report.stage == stage)
    }

    /// How a stage stands.
    pub fn stage_status(&self, stage: Stage) -> StageStatus {
        match self.stage(stage).map(|report| report.state) {
            None if self.is_active() => StageStatus::Waiting,
            None => StageStatus::NotReached,
            Some(StageState::Done) => StageStatus::Done,
            Some(StageState::Started) if self.is_active() => StageStatus::Working,
            Some(StageState::Started) => StageStatus::Stopped,
        }
    }

    /// Takes in a message from the server.
    pub fn apply(&mut self, message: ServerMsg) {
        if let Some(job) = about(&message)
            && self.id == Some(job)
        {
            if let ServerMsg::Error { code, message, .. } = &message
                && let Some(refused) = self.follow.refused(*code)
            {
                return self.resume_refused(refused, *code, message);
            }
            self.follow.heard();
        }
        match message {
            // The connection checks the handshake.
            ServerMsg::Hello { .. } => {}
            ServerMsg::Described { job } => {
                if self.owns(job) && self.is_active() {
                    self.phase = Phase::Described;
                }
            }
            // Another worker runs it from the start: its stages report again (and its audio
            // format restarts the player).
            ServerMsg::Restarted { job, .. } => {
                if self.owns(job) && self.is_active() {
                    self.follow.restarted();
                    let own = self.own_description;
                    self.stages
                        .retain(|report| own && report.stage == Stage::Enhance);
                    self.phase = Phase::Running;
                }
            }
            ServerMsg::Accepted {
                job,
                position,
                settings,
            } => {
                let own = settings
                    .description
                    .clone()
                    .filter(|_| self.kind == JobKind::Compose);
                *self = Job {
                    kind: self.kind,
                    phase: queue_phase(position),
                    id: Some(job),
                    own_description: own.is_some(),
                    settings: Some(settings),
                    stages: Vec::new(),
                    follow: Follow::default(),
                };
                // The person wrote the description: that stage is theirs, done before it ran.
                if let Some(text) = own {
                    self.record(StageReport {
                        stage: Stage::Enhance,
                        state: StageState::Done,
                        result: Some(StageResult::Description {
                            text,
                            fallback: false,
                        }),
                    });
                }
            }
            ServerMsg::Queued { job, position } => {
                // A running piece never waits again (a resume repeats its old places).
                let waits_again = position > 0 && self.phase == Phase::Running;
                if self.owns(job)
                    && self.is_active()
                    && self.phase != Phase::Cancelling
                    && !waits_again
                {
                    self.phase = queue_phase(position);
                }
            }
            ServerMsg::Stage {
                job,
                stage,
                state,
                result,
            } => {
                if self.owns(job) {
                    self.record(StageReport {
                        stage,
                        state,
                        result,
                    });
                    self.mark_running();
                }
            }
            // The format goes with the samples; it still means the piece is being made.
            ServerMsg::AudioFormat { job, .. } => {
                if self.owns(job) {
                    self.mark_running();
                }
            }
            ServerMsg::Done {
                job,
                track,
                share_path,
                seconds,
                ..
            } => {
                if self.owns(job) {
                    self.phase = Phase::Done(Finished {
                        track,
                        share_path,
                        seconds,
                        stored: false,
                    });
                }
            }
            ServerMsg::Error { code, message, job } => {
                if job.is_none_or(|job| self.owns(job)) {
                    self.phase = match code {
                        ErrorCode::Cancelled => Phase::Cancelled,
                        code => Phase::Failed(Problem::from_server(code, &message)),
                    };
                }
            }
        }
    }

    /// Notes that Cancel was sent.
    pub fn cancelling(&mut self) {
        if self.is_active() {
            self.phase = Phase::Cancelling;
        }
    }

    /// Notes that the connection dropped. A piece the server took goes on there, to be picked
    /// up on the next connection (true); one not yet taken is lost with the connection.
    pub fn connection_lost(&mut self) -> bool {
        if !self.is_active() {
            return false;
        }
        if self.id.is_some() {
            self.follow.lost();
            return true;
        }
        self.phase = Phase::Failed(Problem::connection_lost());
        false
    }

    /// On a new connection: what picks the piece up again, when it was lost with the last one
    /// (`resume` from the `frames` the page holds, and a cancel the person asked for meanwhile).
    pub fn resume_messages(&mut self, frames: u32) -> Vec<ClientMsg> {
        match self.id {
            Some(id) if self.is_active() => {
                let cancel = self.phase == Phase::Cancelling;
                self.follow.resume(id, frames, cancel)
            }
            _ => Vec::new(),
        }
    }

    /// An `audio_format` arrived: whether it starts the piece's audio, or is the repeat a
    /// resume sends.
    pub fn takes_format(&mut self) -> bool {
        self.follow.takes_format()
    }

    /// The server would not let the piece be followed again.
    fn resume_refused(&mut self, refused: Refused, code: ErrorCode, message: &str) {
        match refused {
            // Asked again once the old connection has let go.
            Refused::TryAgain => {}
            Refused::Lost if self.phase == Phase::Cancelling => self.phase = Phase::Cancelled,
            Refused::Lost => self.phase = Phase::Failed(Problem::not_resumed(code, message)),
        }
    }

    /// Whether a message about `job` is about this piece.
    fn owns(&self, job: JobId) -> bool {
        self.id.is_none_or(|id| id == job)
    }

    fn mark_running(&mut self) {
        if matches!(self.phase, Phase::Requested | Phase::Queued { .. }) {
            self.phase = Phase::Running;
        }
    }

    /// Keeps a stage's report, its text made plain (it came from a model or a person). A
    /// stage done does not start again (a resume repeats its `started`).
    fn record(&mut self, report: StageReport) {
        let report = StageReport {
            result: report.result.map(StageResult::into_plain),
            ..report
        };
        match self
            .stages
            .iter_mut()
            .find(|known| known.stage == report.stage)
        {
            Some(known) if known.state == StageState::Done => {}
            Some(known) => {
                known.state = report.state;
                if report.result.is_some() {
                    known.result = report.result;
                }
            }
            None => self.stages.push(report),
        }
    }
}

/// The piece a message is about, if it names one.
fn about(message: &ServerMsg) -> Option<JobId> {
    match message {
        ServerMsg::Hello { .. } => None,
        ServerMsg::Accepted { job, .. }
        | ServerMsg::Queued { job, .. }
        | ServerMsg::Stage { job, .. }
        | ServerMsg::AudioFormat { job, .. }
        | ServerMsg::Done { job, .. }
        | ServerMsg::Described { job }
        | ServerMsg::Restarted { job, .. } => Some(*job),
        ServerMsg::Error { job, .. } => *job,
    }
}

/// The stages a variant runs, in order.
pub fn stages_for(variant: Variant) -> Vec<Stage> {
    match variant {
        Variant::Emotive => vec![Stage::Emotion, Stage::Compose],
        Variant::Narrative => vec![Stage::Emotion, Stage::Caption, Stage::Compose],
        Variant::Lyrical | Variant::Optimized => Stage::ALL.to_vec(),
    }
}

fn queue_phase(position: u32) -> Phase {
    match position {
        0 => Phase::Running,
        place => Phase::Queued { place },
    }
}

/// A stage's name as on the wire, e.g. `enhance`.
pub fn stage_name(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The resolved settings in one line, so that a piece can be made again.
pub fn settings_words(settings: &Settings) -> String {
    format!(
        "{} · {} s · seed {} · top-k {} · temperature {} · guidance {}",
        title_case(settings.variant.as_str()),
        settings.seconds,
        settings.seed,
        settings.top_k,
        settings.temperature,
        settings.guidance
    )
}

/// A word with its first letter in upper case.
pub fn title_case(word: &str) -> String {
    let mut letters = word.chars();
    match letters.next() {
        Some(first) => first.to_uppercase().chain(letters).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::{
        Emotion, EmotionProbabilities, GenerateRequest, ImageId, ImageRef, Variant,
    };

    use super::*;
    use crate::problem::ProblemCode;

    fn settings() -> Settings {
        let image = ImageRef::Upload(ImageId::parse(&"1".repeat(64)).expect("a valid id"));
        GenerateRequest::new(image)
            .resolve(|| 99)
            .expect("defaults are in range")
    }

    fn accepted(position: u32) -> ServerMsg {
        ServerMsg::Accepted {
            job: JobId(3),
            position,
            settings: settings(),
        }
    }

    fn emotion_done() -> ServerMsg {
        ServerMsg::Stage {
            job: JobId(3),
            stage: Stage::Emotion,
            state: StageState::Done,
            result: Some(StageResult::Emotion {
                label: Emotion::Sad,
                probabilities: EmotionProbabilities {
                    happy: 0.1,
                    angry: 0.1,
                    sad: 0.6,
                    fun: 0.1,
                    neutral: 0.1,
                },
                labeller: "resnet-bigru".to_owned(),
            }),
        }
    }

    fn started(stage: Stage) -> ServerMsg {
        ServerMsg::Stage {
            job: JobId(3),
            stage,
            state: StageState::Started,
            result: None,
        }
    }

    #[test]
    fn a_piece_goes_from_queue_through_stages_to_done() {
        let mut job = Job::requested(JobKind::Compose);
        assert!(job.is_active());
        assert!(!job.was_accepted());
        job.apply(accepted(2));
        assert_eq!(job.phase, Phase::Queued { place: 2 });
        assert_eq!(job.settings.as_ref().map(|s| s.seed), Some(99));
        job.apply(ServerMsg::Queued {
            job: JobId(3),
            position: 1,
        });
        assert_eq!(job.phase, Phase::Queued { place: 1 });
        assert_eq!(job.phase.name(), "queued");
        job.apply(started(Stage::Emotion));
        assert_eq!(job.phase, Phase::Running);
        assert_eq!(job.phase.name(), "running");
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Working);
        job.apply(emotion_done());
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Done);
        assert!(matches!(
            job.stage(Stage::Emotion).and_then(|r| r.result.as_ref()),
            Some(StageResult::Emotion {
                label: Emotion::Sad,
                ..
            })
        ));
        assert_eq!(job.stage_status(Stage::Caption), StageStatus::Waiting);
        job.apply(ServerMsg::Done {
            job: JobId(3),
            track: TrackId::from_bits(5),
            share_path: "/t/x".to_owned(),
            seconds: 15.0,
            reused: false,
        });
        assert!(!job.is_active());
        assert_eq!(job.phase.words(), "Finished: 15.0 s of music.");
        assert_eq!(job.phase.name(), "done");
    }

    #[test]
    fn refusals_and_cancellations_end_the_piece() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(ServerMsg::error(
            ErrorCode::ModelsUnavailable,
            "music cannot be made here: no runtime",
        ));
        let Phase::Failed(problem) = &job.phase else {
            panic!("expected a failure, got {:?}", job.phase)
        };
        assert_eq!(
            problem.code,
            ProblemCode::Server(ErrorCode::ModelsUnavailable)
        );

        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(0));
        job.apply(started(Stage::Caption));
        job.cancelling();
        assert_eq!(job.phase, Phase::Cancelling);
        job.apply(ServerMsg::Error {
            code: ErrorCode::Cancelled,
            message: "cancelled".to_owned(),
            job: Some(JobId(3)),
        });
        assert_eq!(job.phase, Phase::Cancelled);
        assert_eq!(job.stage_status(Stage::Caption), StageStatus::Stopped);
        assert_eq!(job.stage_status(Stage::Enhance), StageStatus::NotReached);
    }

    #[test]
    fn a_dropped_connection_fails_only_a_piece_not_yet_taken() {
        let mut job = Job::requested(JobKind::Compose);
        assert!(!job.connection_lost());
        assert!(matches!(&job.phase, Phase::Failed(p) if p.code == ProblemCode::ConnectionLost));
        let mut idle = Job::default();
        assert!(!idle.connection_lost());
        assert_eq!(idle.phase, Phase::Idle);
        assert!(idle.resume_messages(0).is_empty());
    }

    #[test]
    fn a_piece_taken_goes_on_across_a_dropped_connection() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(1));
        job.apply(ServerMsg::Queued {
            job: JobId(3),
            position: 0,
        });
        job.apply(started(Stage::Emotion));
        job.apply(emotion_done());
        job.apply(started(Stage::Caption));
        assert!(job.takes_format());
        let before = job.clone();

        assert!(job.connection_lost());
        assert!(job.connection_lost(), "every failed try says the same");
        assert_eq!(job.phase, Phase::Running);
        assert!(job.is_reconnecting());
        assert!(job.status_words(true).starts_with("Reconnecting"));
        assert!(
            job.progress_words(&PlayerView::default())
                .unwrap()
                .starts_with("Reconnecting")
        );
        assert_eq!(
            job.resume_messages(7),
            [ClientMsg::Resume {
                job: JobId(3),
                from_frame: 7
            }]
        );
        assert!(job.resume_messages(7).is_empty(), "asked once");

        // The server says it all again: nothing goes back, the format is a repeat.
        job.apply(ServerMsg::Queued {
            job: JobId(3),
            position: 1,
        });
        assert!(!job.is_reconnecting());
        job.apply(started(Stage::Emotion));
        job.apply(emotion_done());
        job.apply(started(Stage::Caption));
        assert!(!job.takes_format());
        assert_eq!(job.phase, before.phase);
        assert_eq!(job.stages, before.stages);
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Done);
        job.apply(ServerMsg::Done {
            job: JobId(3),
            track: TrackId::from_bits(5),
            share_path: "/t/x".to_owned(),
            seconds: 15.0,
            reused: false,
        });
        assert_eq!(job.phase.name(), "done");
    }

    #[test]
    fn a_refused_resume_ends_the_piece_unless_the_old_connection_still_holds_it() {
        let refusal = |code| ServerMsg::Error {
            code,
            message: "piece 3 cannot be followed here".to_owned(),
            job: Some(JobId(3)),
        };
        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(0));
        job.connection_lost();
        job.resume_messages(2);
        job.apply(refusal(ErrorCode::Busy));
        assert_eq!(job.phase, Phase::Running, "asked again later");
        assert_eq!(job.link(), Link::Lost);
        assert_eq!(job.resume_messages(2).len(), 1);
        job.apply(refusal(ErrorCode::NotFound));
        let Phase::Failed(problem) = &job.phase else {
            panic!("expected a failure, got {:?}", job.phase)
        };
        assert_eq!(problem.code, ProblemCode::Server(ErrorCode::NotFound));
        assert!(problem.summary.contains("picked up again"), "{problem:?}");
        assert!(problem.detail.as_ref().unwrap().contains("piece 3"));
        assert!(!job.is_reconnecting());
    }

    #[test]
    fn a_cancel_while_reconnecting_follows_the_resume() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(0));
        job.connection_lost();
        job.cancelling();
        assert_eq!(
            job.resume_messages(0),
            [
                ClientMsg::Resume {
                    job: JobId(3),
                    from_frame: 0
                },
                ClientMsg::Cancel
            ]
        );
        // Refused: it is gone either way.
        job.apply(ServerMsg::Error {
            code: ErrorCode::NotFound,
            message: "gone".to_owned(),
            job: Some(JobId(3)),
        });
        assert_eq!(job.phase, Phase::Cancelled);
    }

    #[test]
    fn messages_about_another_piece_are_ignored() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(0));
        job.apply(ServerMsg::Stage {
            job: JobId(4),
            stage: Stage::Emotion,
            state: StageState::Started,
            result: None,
        });
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Waiting);
    }

    #[test]
    fn reading_the_painting_ends_described_with_the_description() {
        let mut job = Job::requested(JobKind::Describe);
        job.apply(accepted(0));
        assert_eq!(job.kind, JobKind::Describe);
        assert_eq!(
            job.stages_shown(),
            [Stage::Emotion, Stage::Caption, Stage::Enhance]
        );
        job.apply(ServerMsg::Stage {
            job: JobId(3),
            stage: Stage::Enhance,
            state: StageState::Done,
            result: Some(StageResult::Description {
                text: "slow cello".to_owned(),
                fallback: false,
            }),
        });
        assert_eq!(job.description(), Some("slow cello"));
        job.apply(ServerMsg::Described { job: JobId(3) });
        assert_eq!(job.phase, Phase::Described);
        assert!(!job.is_active());
    }

    #[test]
    fn a_restart_on_another_worker_forgets_the_stages_it_had_reported() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(accepted(0));
        job.apply(ServerMsg::Stage {
            job: JobId(3),
            stage: Stage::Emotion,
            state: StageState::Done,
            result: None,
        });
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Done);
        job.apply(ServerMsg::Restarted {
            job: JobId(3),
            attempt: 2,
        });
        assert_eq!(job.stage_status(Stage::Emotion), StageStatus::Waiting);
        assert_eq!(job.phase, Phase::Running);
        assert!(job.is_active());
    }

    #[test]
    fn a_description_of_the_persons_own_counts_as_done() {
        let mut job = Job::requested(JobKind::Compose);
        let mut own = settings();
        own.description = Some("rain on a window".to_owned());
        job.apply(ServerMsg::Accepted {
            job: JobId(3),
            position: 0,
            settings: own,
        });
        assert!(job.own_description);
        assert_eq!(job.stage_status(Stage::Enhance), StageStatus::Done);
        assert_eq!(job.description(), Some("rain on a window"));
        assert_eq!(job.stage_status(Stage::Caption), StageStatus::Waiting);
    }

    #[test]
    fn each_variant_shows_the_stages_it_runs() {
        assert_eq!(
            stages_for(Variant::Emotive),
            [Stage::Emotion, Stage::Compose]
        );
        assert_eq!(
            stages_for(Variant::Narrative),
            [Stage::Emotion, Stage::Caption, Stage::Compose]
        );
        assert_eq!(stages_for(Variant::Optimized), Stage::ALL);
    }

    #[test]
    fn a_stored_track_shows_as_a_finished_piece() {
        let info = TrackInfo {
            id: TrackId::from_bits(9),
            share_path: "/t/x".to_owned(),
            settings: settings(),
            image_url: "/api/images/x".to_owned(),
            gallery: None,
            emotion: Emotion::Happy,
            probabilities: EmotionProbabilities {
                happy: 0.6,
                angry: 0.1,
                sad: 0.1,
                fun: 0.1,
                neutral: 0.1,
            },
            labeller: "clip-zero-shot".to_owned(),
            caption: Some("a happy painting of a meadow".to_owned()),
            description: Some("bright flutes".to_owned()),
            music_text: "bright flutes".to_owned(),
            sample_rate: 32_000,
            seconds: 15.0,
            wav_url: "/api/tracks/x/audio.wav".to_owned(),
            compressed_url: "/api/tracks/x/audio.ogg".to_owned(),
            model_revisions: Default::default(),
            demo: true,
            clap: None,
            created_at: 0,
        };
        let job = Job::from_track(&info);
        assert!(!job.is_active());
        assert_eq!(job.finished().map(|f| f.stored), Some(true));
        for stage in Stage::ALL {
            assert_eq!(job.stage_status(stage), StageStatus::Done, "{stage:?}");
        }
        assert_eq!(job.description(), Some("bright flutes"));
        assert!(job.phase.words().starts_with("A piece made earlier"));
    }

    #[test]
    fn stages_are_named_as_on_the_wire() {
        let names: Vec<String> = Stage::ALL.into_iter().map(stage_name).collect();
        assert_eq!(names, ["emotion", "caption", "enhance", "compose"]);
    }

    #[test]
    fn settings_read_as_one_line() {
        let mut settings = settings();
        settings.variant = Variant::Narrative;
        assert_eq!(
            settings_words(&settings),
            "Narrative · 15 s · seed 99 · top-k 250 · temperature 1 · guidance 3"
        );
    }

    #[test]
    fn the_idle_status_says_what_comes_next_once_a_painting_is_chosen() {
        assert!(
            Phase::Idle
                .words_with(false)
                .starts_with("Choose a painting")
        );
        assert!(Phase::Idle.words_with(true).contains("press Compose music"));
        assert_eq!(Phase::Running.words_with(true), Phase::Running.words());
    }

    #[test]
    fn stage_text_is_kept_plain() {
        let mut job = Job::requested(JobKind::Compose);
        job.record(StageReport {
            stage: Stage::Caption,
            state: StageState::Done,
            result: Some(StageResult::Caption {
                text: "a\u{0}b\u{202E}c".into(),
            }),
        });
        assert_eq!(
            job.stage(Stage::Caption).unwrap().result,
            Some(StageResult::Caption { text: "abc".into() })
        );
    }

    #[test]
    fn progress_says_the_step_then_how_much_music_is_made() {
        let mut job = Job::requested(JobKind::Compose);
        job.phase = Phase::Running;
        job.record(StageReport {
            stage: Stage::Emotion,
            state: StageState::Started,
            result: None,
        });
        let waiting = PlayerView::default();
        assert_eq!(
            job.progress_words(&waiting).unwrap(),
            "Step 1 of 4: Feeling the painting's emotion…"
        );
        job.record(StageReport {
            stage: Stage::Compose,
            state: StageState::Started,
            result: None,
        });
        let arriving = PlayerView {
            received: 3.4,
            expected: Some(15.0),
            starts_in: Some(6.2),
            ..PlayerView::default()
        };
        assert_eq!(
            job.progress_words(&arriving).unwrap(),
            "Step 4 of 4: Composing, 3 of 15 seconds made; it starts in about 7 s…"
        );
        job.phase = Phase::Cancelled;
        assert_eq!(job.progress_words(&arriving), None);
    }
}
