//! Answering a request from the track an identical earlier request made: the same stage
//! messages, the stored audio as frames, and `done` with `reused: true`, at once.

use ekphrasis_shared::domain::{Stage, StageResult, StageState};
use ekphrasis_shared::protocol::SampleEncoding;
use ekphrasis_shared::{ErrorCode, JobId, ServerMsg};

use super::Outgoing;
use super::driver::{Audio, stage_message};
use super::output::JobOutput;
use crate::audio::wav;
use crate::store::{Store, TrackRecord};

/// Sends `track` to the job's output as if it were being made now. A cluster's job (`commit`)
/// is marked done with that track before `done` is sent.
pub async fn replay(
    job: JobId,
    track: TrackRecord,
    store: Store,
    commit: Option<JobId>,
    output: &JobOutput,
) {
    let tracks = &store.tracks;
    let send = |message| output.send(Outgoing::Message(message));
    let pcm = match tracks
        .wav(&track.id)
        .await
        .map(|bytes| wav::read_s16(&bytes))
    {
        Ok(Ok((_, pcm))) => pcm,
        Ok(Err(e)) => return fail(&send, job, &track, e.into()),
        Err(e) => return fail(&send, job, &track, e),
    };
    for (stage, result) in stage_results(&track) {
        send(stage_message(job, stage, StageState::Started, None));
        if result.is_some() {
            send(stage_message(job, stage, StageState::Done, result));
        }
    }
    send(ServerMsg::AudioFormat {
        job,
        sample_rate: track.sample_rate,
        channels: 1,
        encoding: SampleEncoding::S16le,
    });
    for frame in Audio::default().frames(&pcm) {
        output.send(Outgoing::Audio(frame));
    }
    send(stage_message(job, Stage::Compose, StageState::Done, None));
    if let Some(row) = commit
        && let Err(e) = store.jobs.done(row, &track.id).await
    {
        return fail(&send, job, &track, e);
    }
    send(ServerMsg::Done {
        job,
        share_path: format!("/t/{}", track.id),
        seconds: track.seconds(),
        track: track.id,
        reused: true,
    });
}

fn fail(send: &impl Fn(ServerMsg), job: JobId, track: &TrackRecord, error: anyhow::Error) {
    tracing::error!(track = %track.id, error = format!("{error:#}"), "a stored track is unreadable");
    send(ServerMsg::Error {
        code: ErrorCode::Internal,
        message: "the stored music could not be read; the server log has the details".into(),
        job: Some(job),
    });
}

/// The stages a stored track went through, each with its result (compose has none).
pub fn stage_results(track: &TrackRecord) -> Vec<(Stage, Option<StageResult>)> {
    let texts = &track.texts;
    let mut stages = vec![(
        Stage::Emotion,
        Some(StageResult::Emotion {
            label: texts.emotion,
            probabilities: texts.probabilities,
            labeller: texts.labeller.clone(),
        }),
    )];
    if let Some(text) = &texts.caption {
        stages.push((
            Stage::Caption,
            Some(StageResult::Caption { text: text.clone() }),
        ));
    }
    if let Some(text) = &texts.description {
        stages.push((
            Stage::Enhance,
            Some(StageResult::Description {
                text: text.clone(),
                fallback: texts.description_fallback,
            }),
        ));
    }
    stages.push((Stage::Compose, None));
    stages
}
