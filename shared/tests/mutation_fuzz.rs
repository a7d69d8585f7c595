//! A million mutated inputs through every decoder a client's bytes reach (issue 16): the binary
//! audio frame, the JSON messages both ways, and request resolution. Seeds are the protocol's
//! own wire forms; each input is a seed with a few random edits (bit flips, bytes set, inserted,
//! deleted, runs duplicated, two seeds spliced), made by a seeded generator so a failure
//! repeats. Zero panics is the pass; the figures are printed. `EKPHRASIS_FUZZ_INPUTS` sets how
//! many inputs to run (for a longer run than CI's).

use std::time::Instant;

use ekphrasis_shared::domain::{Stage, StageResult, StageState};
use ekphrasis_shared::{AudioFrame, ClientMsg, ErrorCode, ImageRef, JobId, ServerMsg};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// The wire forms the mutations start from.
fn seeds() -> Vec<Vec<u8>> {
    let image = ImageRef::Upload(ekphrasis_shared::ImageId::parse(&"ab".repeat(32)).unwrap());
    let mut request = ekphrasis_shared::GenerateRequest::new(image);
    request.seconds = Some(15.0);
    request.seed = Some(42);
    request.description = Some("slow strings".into());
    let client = [
        ClientMsg::Hello {
            protocol: 1,
            agent: "fuzz".into(),
        },
        ClientMsg::Generate(request.clone()),
        ClientMsg::Describe(request),
        ClientMsg::Cancel,
        ClientMsg::Resume {
            job: JobId(9),
            from_frame: 4,
        },
    ];
    let server = [
        ServerMsg::Stage {
            job: JobId(3),
            stage: Stage::Caption,
            state: StageState::Done,
            result: Some(StageResult::Caption {
                text: "a sad painting".into(),
            }),
        },
        ServerMsg::Error {
            code: ErrorCode::QueueFull,
            message: "busy".into(),
            job: Some(JobId(3)),
        },
        ServerMsg::Described { job: JobId(3) },
        ServerMsg::Restarted {
            job: JobId(3),
            attempt: 2,
        },
    ];
    let mut seeds: Vec<Vec<u8>> = client
        .iter()
        .map(|m| serde_json::to_vec(m).unwrap())
        .chain(server.iter().map(|m| serde_json::to_vec(m).unwrap()))
        .collect();
    seeds.push(
        AudioFrame {
            seq: 7,
            first_sample: 8192,
            samples: vec![0, -1, 32767, -32768],
        }
        .encode(),
    );
    seeds
}

/// One to four random edits of `input` (and maybe a splice with `other`).
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                out[i] = rng.next_u32() as u8;
            }
            2 => {
                let i = rng.random_range(0..=len);
                out.insert(i, rng.next_u32() as u8);
            }
            3 if len > 0 => {
                let i = rng.random_range(0..len);
                out.remove(i);
            }
            4 if len > 1 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..len);
                let run = out[start..=end].to_vec();
                out.splice(end..end, run);
            }
            _ => {
                let cut = rng.random_range(0..=out.len());
                let from = rng.random_range(0..=other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
    out
}

#[test]
fn a_million_mutated_inputs_never_panic_a_decoder() {
    let inputs: usize = std::env::var("EKPHRASIS_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(16);
    let (mut frames, mut client, mut server, mut resolved) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    for _ in 0..inputs {
        let seed = &seeds[rng.random_range(0..seeds.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        if matches!(AudioFrame::decode(&input), Ok(Some(_))) {
            frames += 1;
        }
        match serde_json::from_slice::<ClientMsg>(&input) {
            Ok(ClientMsg::Generate(request) | ClientMsg::Describe(request)) => {
                client += 1;
                if request.resolve(|| 5).is_ok() {
                    resolved += 1;
                }
            }
            Ok(_) => client += 1,
            Err(_) => {}
        }
        if serde_json::from_slice::<ServerMsg>(&input).is_ok() {
            server += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{inputs} mutated inputs in {seconds:.1} s ({:.0}/s): {frames} decoded as audio frames, \
         {client} as client messages ({resolved} requests resolved), {server} as server \
         messages; no panic",
        inputs as f64 / seconds
    );
    // The mutations keep some inputs valid and break the rest: both sides are exercised.
    assert!(client > 0 && server > 0 && frames > 0 && client < inputs);
}
