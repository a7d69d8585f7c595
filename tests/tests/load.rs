//! A bounded load test on loopback: twenty WebSocket clients ask for music at once (tiny demo
//! models, one worker). Every one finishes, each receives exactly the audio stored for its own
//! track (none receives another's), and the server's memory returns to its baseline.

use std::collections::HashSet;

use ekphrasis_e2e::{TestServer, WsClient, images};
use ekphrasis_shared::api::UploadedImage;
use ekphrasis_shared::{ClientMsg, GenerateRequest, ImageRef, ServerMsg};

const CLIENTS: u64 = 20;

/// Resident memory of this process (the in-process server) in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

async fn one_piece(server: &TestServer, image: &UploadedImage, seed: u64) -> (String, Vec<i16>) {
    let mut client = WsClient::handshake(&server.ws_url()).await;
    let mut request = GenerateRequest::new(ImageRef::Upload(image.id.clone()));
    request.seconds = Some(1.0);
    request.seed = Some(seed);
    request.variant = Some(ekphrasis_shared::Variant::Emotive);
    client.send(&ClientMsg::Generate(request)).await;
    let job = client.collect_job().await;
    let ServerMsg::Done { track, .. } = job.last() else {
        panic!("client {seed}: {:?}", job.last())
    };
    (track.to_string(), job.samples())
}

async fn stored(server: &TestServer, track: &str) -> Vec<i16> {
    let bytes = reqwest::get(server.url(&format!("/api/tracks/{track}/audio.wav")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    bytes[44..]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_at_once_each_get_their_own_music() {
    let server = TestServer::start().await;
    let image: UploadedImage = reqwest::Client::new()
        .post(server.url("/api/images"))
        .body(images::noisy_png(40, 30))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Warm up allocations with a few pieces first, then take the baseline.
    for seed in 1000..1003 {
        one_piece(&server, &image, seed).await;
    }
    let baseline = rss_bytes();

    let pieces =
        futures_util::future::join_all((0..CLIENTS).map(|seed| one_piece(&server, &image, seed)))
            .await;
    let tracks: HashSet<&String> = pieces.iter().map(|(track, _)| track).collect();
    assert_eq!(
        tracks.len(),
        CLIENTS as usize,
        "every client has its own track"
    );
    for (track, samples) in &pieces {
        assert_eq!(samples.len(), 32_000, "track {track}: one second");
        assert_eq!(&stored(&server, track).await, samples, "track {track}");
    }
    let sounds: HashSet<&Vec<i16>> = pieces.iter().map(|(_, samples)| samples).collect();
    assert_eq!(
        sounds.len(),
        CLIENTS as usize,
        "twenty seeds, twenty pieces"
    );

    drop(pieces);
    let after = rss_bytes();
    let grown = after.saturating_sub(baseline);
    println!(
        "resident memory: baseline {:.1} MiB, after {CLIENTS} concurrent clients {:.1} MiB",
        baseline as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    assert!(
        grown < 32 << 20,
        "memory grew by {:.1} MiB over the baseline",
        grown as f64 / 1048576.0
    );
}
