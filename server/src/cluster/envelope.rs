//! What travels through the broker: a submission (JSON), and a job's output — its protocol
//! messages (JSON) and audio frames (protocol v1's binary form, unchanged) — told apart by a
//! header, with the attempt that made them.

use async_nats::HeaderMap;
use bytes::Bytes;
use ekphrasis_shared::{AudioFrame, ImageId, JobId, ServerMsg, Settings};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobKind, Outgoing};

/// The header naming what an output message holds.
pub const KIND_HEADER: &str = "Ekphrasis-Kind";
/// The header with the attempt (1 for a job's first run) that made an output message.
pub const ATTEMPT_HEADER: &str = "Ekphrasis-Attempt";

/// A job on its way to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub job: JobId,
    pub describe: bool,
    pub settings: Settings,
    /// The painting, already found (a gallery item's image included).
    pub image: ImageId,
}

impl Submission {
    /// What the job asks the models for.
    pub fn kind(&self) -> JobKind {
        if self.describe {
            JobKind::Describe
        } else {
            JobKind::Generate
        }
    }

    /// The message body.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a submission serialises"))
    }

    /// Reads a message body.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("an unreadable submission: {e}"))
    }
}

/// One of a job's outputs as a broker message: headers and body.
pub fn encode(output: &Outgoing, attempt: u32) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(ATTEMPT_HEADER, attempt.to_string().as_str());
    let body = match output {
        Outgoing::Message(message) => {
            headers.insert(KIND_HEADER, "message");
            Bytes::from(serde_json::to_vec(message).expect("server messages serialise"))
        }
        Outgoing::Audio(frame) => {
            headers.insert(KIND_HEADER, "audio");
            Bytes::from(frame.encode())
        }
    };
    (headers, body)
}

/// A job's output read back, with its attempt.
pub fn decode(headers: Option<&HeaderMap>, body: &[u8]) -> anyhow::Result<(Outgoing, u32)> {
    let header = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .map(|value| value.as_str().to_owned())
    };
    let attempt = header(ATTEMPT_HEADER)
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    let output = match header(KIND_HEADER).as_deref() {
        Some("message") => Outgoing::Message(
            serde_json::from_slice::<ServerMsg>(body)
                .map_err(|e| anyhow::anyhow!("an unreadable job message: {e}"))?,
        ),
        Some("audio") => Outgoing::Audio(
            AudioFrame::decode(body)
                .map_err(|e| anyhow::anyhow!("an unreadable audio frame: {e}"))?
                .ok_or_else(|| anyhow::anyhow!("an audio frame with an unknown tag"))?,
        ),
        other => anyhow::bail!("a job output of unknown kind {other:?}"),
    };
    Ok((output, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ekphrasis_shared::{ErrorCode, GenerateRequest, ImageRef};

    #[test]
    fn outputs_and_submissions_read_back_as_written() {
        let frame = AudioFrame {
            seq: 3,
            first_sample: 24_576,
            samples: vec![1, -2, i16::MAX, i16::MIN],
        };
        for output in [
            Outgoing::Audio(frame),
            Outgoing::Message(ServerMsg::error(ErrorCode::Cancelled, "stopped")),
        ] {
            let (headers, body) = encode(&output, 2);
            assert_eq!(decode(Some(&headers), &body).unwrap(), (output, 2));
        }
        assert!(decode(None, b"{}").is_err());

        let image = ImageId::parse(&"ab".repeat(32)).unwrap();
        let request = GenerateRequest::new(ImageRef::Upload(image.clone()));
        let submission = Submission {
            job: JobId(9),
            describe: false,
            settings: request.resolve(|| 7).unwrap(),
            image,
        };
        let read = Submission::from_bytes(&submission.to_bytes()).unwrap();
        assert_eq!(read, submission);
        assert_eq!(read.kind(), JobKind::Generate);
    }
}
