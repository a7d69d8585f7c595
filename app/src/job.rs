//! The current piece as the server reports it: its place in the queue, the stages as they start
//! and finish with their results, and how it ended. Audio samples are kept apart, in
//! [`crate::audio`].

use ekphrasis_shared::{
    ErrorCode, JobId, ServerMsg, Settings, Stage, StageResult, StageState, TrackId,
};

use crate::problem::Problem;

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
    Done(Finished),
    Failed(Problem),
}

/// A finished piece.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    pub track: TrackId,
    /// Where the piece's own page is, e.g. `/t/{track}`.
    pub share_path: String,
    pub seconds: f32,
}

impl Phase {
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
    pub phase: Phase,
    /// Set once the server accepts the request.
    pub id: Option<JobId>,
    /// The settings the server resolved the request to.
    pub settings: Option<Settings>,
    stages: Vec<StageReport>,
}

impl Job {
    /// A piece just asked for.
    pub fn requested() -> Self {
        Job {
            phase: Phase::Requested,
            ..Job::default()
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
        match message {
            // The connection checks the handshake.
            ServerMsg::Hello { .. } | ServerMsg::Described { .. } => {}
            ServerMsg::Accepted {
                job,
                position,
                settings,
            } => {
                *self = Job {
                    phase: queue_phase(position),
                    id: Some(job),
                    settings: Some(settings),
                    stages: Vec::new(),
                };
            }
            ServerMsg::Queued { job, position } => {
                if self.owns(job) && self.is_active() && self.phase != Phase::Cancelling {
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

    /// Notes that the connection dropped: a piece in progress is lost with it.
    pub fn connection_lost(&mut self) {
        if self.is_active() {
            self.phase = Phase::Failed(Problem::connection_lost());
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

    fn record(&mut self, report: StageReport) {
        match self
            .stages
            .iter_mut()
            .find(|known| known.stage == report.stage)
        {
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
        let mut job = Job::requested();
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
        job.apply(started(Stage::Emotion));
        assert_eq!(job.phase, Phase::Running);
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
    }

    #[test]
    fn refusals_and_cancellations_end_the_piece() {
        let mut job = Job::requested();
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

        let mut job = Job::requested();
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
    fn a_dropped_connection_fails_only_a_piece_in_progress() {
        let mut job = Job::requested();
        job.connection_lost();
        assert!(matches!(&job.phase, Phase::Failed(p) if p.code == ProblemCode::ConnectionLost));
        let mut idle = Job::default();
        idle.connection_lost();
        assert_eq!(idle.phase, Phase::Idle);
    }

    #[test]
    fn messages_about_another_piece_are_ignored() {
        let mut job = Job::requested();
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
}
