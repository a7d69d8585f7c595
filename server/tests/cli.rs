//! The `ekphrasis` binary as users and scripts run it: `serve --addr --data`, the listening line,
//! graceful shutdown on SIGTERM, and one readable error line on bad settings.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::BIN;

/// Starts `ekphrasis serve` on a free port and returns it with its address.
fn serve(data: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .env_remove("EKPHRASIS_STATIC_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn serves_health_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(&data.path().join("kept"));
    let response = get(&addr, "/api/health");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""protocol":1"#), "{response}");
    assert!(
        data.path().join("kept/ekphrasis.sqlite3").is_file(),
        "--data holds what the server keeps"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait(&mut child, Duration::from_secs(10)).expect("stops within 10 s");
    assert!(status.success(), "{status}");
}

#[test]
fn bad_settings_fail_with_one_readable_line() {
    let cases: [&[&str]; 3] = [
        &["serve", "--config", "/no/such/ekphrasis.toml"],
        &["serve", "--max-upload-bytes", "0"],
        &["serve", "--addr", "not-an-address"],
    ];
    for args in cases {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.lines().count() <= 3, "{args:?}: {stderr}");
    }
}

#[test]
fn an_address_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--demo", "--addr", &addr, "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn compose_writes_the_reference_codes_and_their_audio() {
    let fixture = common::fixture("musicgen-tiny");
    let expected = candle_core::safetensors::load(
        fixture.join("expected.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let want_codes: Vec<Vec<u32>> = expected["generate_g3_codes"]
        .get(0)
        .unwrap()
        .to_dtype(candle_core::DType::U32)
        .unwrap()
        .to_vec2()
        .unwrap();
    let want_audio: Vec<f32> = expected["generate_g3_audio"]
        .get(0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (wav, json) = (out.path().join("song.wav"), out.path().join("codes.json"));
    let status = Command::new(BIN)
        .args(["compose", "--musicgen"])
        .arg(&fixture)
        .args([
            "--text",
            "happy piano melody with a bright beat.",
            "--frames",
            "13",
        ])
        .args(["--greedy", "--guidance", "3", "--out"])
        .arg(&wav)
        .arg("--codes-out")
        .arg(&json)
        .status()
        .unwrap();
    assert!(status.success());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let codes: Vec<Vec<u32>> = serde_json::from_value(written["codes"].clone()).unwrap();
    assert_eq!(codes, want_codes);

    let bytes = std::fs::read(&wav).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(bytes[24..28].try_into().unwrap()),
        32_000
    );
    let samples: Vec<f32> = bytes[44..]
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32767.0)
        .collect();
    assert_eq!(samples.len(), 13 * 640);
    let worst = samples
        .iter()
        .zip(&want_audio)
        .map(|(a, b)| (a - b.clamp(-1.0, 1.0)).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "audio differs by {worst}");
}

#[test]
fn compose_refuses_bad_input_with_a_clear_line() {
    let fixture = common::fixture("musicgen-tiny");
    let cases: [(&[&str], &str); 4] = [
        (&["--text", "", "--frames", "3"], "empty"),
        (&["--text", "music", "--frames", "0"], "frames"),
        (
            &["--text", "music", "--frames", "3", "--guidance", "0.5"],
            "guidance",
        ),
        (
            &["--text", "music", "--frames", "3", "--top-k", "0"],
            "top-k",
        ),
    ];
    for (args, word) in cases {
        let out = Command::new(BIN)
            .args(["compose", "--musicgen"])
            .arg(&fixture)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(word) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
    let out = Command::new(BIN)
        .args([
            "compose",
            "--musicgen",
            "/no/such/checkpoint",
            "--text",
            "x",
            "--frames",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/checkpoint"));
}
