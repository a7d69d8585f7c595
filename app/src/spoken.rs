//! Words for people who listen rather than look: the lines a screen reader announces as a piece
//! is made (each stage's finding, the queue, how it ended), and the reading of a painting that
//! the browser can speak before the music plays.

use ekphrasis_shared::{Stage, StageResult};

use crate::job::{Job, JobKind, Phase};

/// The lines worth announcing about a piece so far, oldest first. A line only ever changes in
/// place (the queue's place) or is added, so a live region showing them announces the news.
pub fn announcements(job: &Job) -> Vec<String> {
    let mut lines = Vec::new();
    if let Phase::Queued { place } = job.phase {
        lines.push(format!("Waiting in line: place {place}."));
    }
    for stage in [Stage::Emotion, Stage::Caption, Stage::Enhance] {
        if let Some(result) = job.stage(stage).and_then(|report| report.result.as_ref()) {
            lines.push(finding(result));
        }
    }
    if job.kind == JobKind::Compose
        && job.stage(Stage::Compose).is_some()
        && job.finished().is_none_or(|f| !f.stored)
        && matches!(job.phase, Phase::Running | Phase::Done(_))
    {
        lines.push("Composing the music now; it plays as it is made.".to_owned());
    }
    match &job.phase {
        Phase::Done(finished) if finished.stored => lines.push(format!(
            "A piece made earlier for this painting, {:.0} seconds long.",
            finished.seconds
        )),
        Phase::Done(finished) => lines.push(format!(
            "Your music is ready: {:.0} seconds. A share link is below the player.",
            finished.seconds
        )),
        Phase::Described => lines.push(
            "The painting has been read. You can change the description, then compose.".to_owned(),
        ),
        Phase::Cancelled => lines.push("Cancelled.".to_owned()),
        _ => {}
    }
    lines
}

/// One stage's finding as a sentence.
pub fn finding(result: &StageResult) -> String {
    match result {
        StageResult::Emotion {
            label,
            probabilities,
            ..
        } => {
            let percent = (probabilities.get(*label).clamp(0.0, 1.0) * 100.0).round();
            format!(
                "Emotion: the painting feels {} ({percent:.0} percent).",
                label.as_str()
            )
        }
        StageResult::Caption { text } => format!("Caption: {}", sentence(text)),
        StageResult::Description { text, .. } => {
            format!("Musical description: {}", sentence(text))
        }
    }
}

/// What is read aloud before the music: the emotion, the caption and the musical description,
/// once every stage before composing has reported (`None` before that, or for a reading of
/// the painting without music).
pub fn reading(job: &Job) -> Option<String> {
    if job.kind != JobKind::Compose {
        return None;
    }
    let composing = job.stage(Stage::Compose).is_some() || job.finished().is_some();
    if !composing {
        return None;
    }
    let mut parts = Vec::new();
    for stage in [Stage::Emotion, Stage::Caption, Stage::Enhance] {
        match job.stage(stage).and_then(|report| report.result.as_ref()) {
            Some(StageResult::Emotion { label, .. }) => {
                parts.push(format!("The painting feels {}.", label.as_str()));
            }
            Some(StageResult::Caption { text }) => {
                parts.push(format!("It shows {}", sentence(text)));
            }
            Some(StageResult::Description { text, .. }) => {
                parts.push(format!("The music: {}", sentence(text)));
            }
            None => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `text` trimmed, ending with a full stop (or its own end mark).
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ekphrasis_shared::{
        Emotion, EmotionProbabilities, GenerateRequest, ImageId, ImageRef, JobId, ServerMsg,
        StageState, TrackId,
    };

    fn probabilities() -> EmotionProbabilities {
        EmotionProbabilities {
            happy: 0.62,
            angry: 0.05,
            sad: 0.08,
            fun: 0.15,
            neutral: 0.10,
        }
    }

    fn stage(stage: Stage, state: StageState, result: Option<StageResult>) -> ServerMsg {
        ServerMsg::Stage {
            job: JobId(7),
            stage,
            state,
            result,
        }
    }

    /// A lyrical piece through its stages, as the server reports them.
    fn running_job() -> Job {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(ServerMsg::Accepted {
            job: JobId(7),
            position: 0,
            settings: GenerateRequest::new(ImageRef::Upload(
                ImageId::parse(&"1".repeat(64)).expect("a valid id"),
            ))
            .resolve(|| 99)
            .expect("defaults are in range"),
        });
        job.apply(stage(
            Stage::Emotion,
            StageState::Done,
            Some(StageResult::Emotion {
                label: Emotion::Happy,
                probabilities: probabilities(),
                labeller: "clip-zero-shot".into(),
            }),
        ));
        job.apply(stage(
            Stage::Caption,
            StageState::Done,
            Some(StageResult::Caption {
                text: "a happy painting of a meadow with a tree".into(),
            }),
        ));
        job
    }

    #[test]
    fn each_finding_is_announced_as_it_arrives() {
        let mut job = running_job();
        assert_eq!(
            announcements(&job),
            [
                "Emotion: the painting feels happy (62 percent).",
                "Caption: a happy painting of a meadow with a tree.",
            ]
        );
        assert_eq!(reading(&job), None, "not before composing starts");
        job.apply(stage(
            Stage::Enhance,
            StageState::Done,
            Some(StageResult::Description {
                text: "Mood: joyful. Genre: folk. Tempo: 110 BPM!".into(),
                fallback: false,
            }),
        ));
        job.apply(stage(Stage::Compose, StageState::Started, None));
        let lines = announcements(&job);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "Musical description: Mood: joyful. Genre: folk. Tempo: 110 BPM!"
        );
        assert!(lines[3].starts_with("Composing"));
        assert_eq!(
            reading(&job).as_deref(),
            Some(
                "The painting feels happy. It shows a happy painting of a meadow with a tree. \
                 The music: Mood: joyful. Genre: folk. Tempo: 110 BPM!"
            )
        );
    }

    #[test]
    fn the_queue_and_the_end_are_announced() {
        let mut job = Job::requested(JobKind::Compose);
        job.apply(ServerMsg::Queued {
            job: JobId(7),
            position: 2,
        });
        assert_eq!(announcements(&job), ["Waiting in line: place 2."]);
        let mut job = running_job();
        job.apply(ServerMsg::Done {
            job: JobId(7),
            track: TrackId::from_bits(1),
            share_path: "/t/x".into(),
            seconds: 15.0,
            reused: false,
        });
        let lines = announcements(&job);
        assert!(
            lines
                .last()
                .expect("a line")
                .starts_with("Your music is ready: 15 seconds")
        );
    }

    #[test]
    fn a_reading_of_the_painting_is_not_read_aloud() {
        let mut job = running_job();
        job.kind = JobKind::Describe;
        assert_eq!(reading(&job), None);
    }
}
