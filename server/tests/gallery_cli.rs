//! `ekphrasis gallery render` on the repository's demo gallery with the tiny demo models: a
//! track for every painting, stored in the data folder, which a server started on that folder
//! then lists with the gallery so picking one plays at once; a second run renders nothing again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common;

use common::{BIN, text};

fn gallery() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/gallery")
}

fn render(data: &Path) -> std::process::Output {
    Command::new(BIN)
        .args([
            "gallery",
            "render",
            "--demo",
            "--seconds",
            "1",
            "--variant",
            "emotive",
        ])
        .args(["--data", text(data), "--gallery", text(&gallery())])
        .output()
        .unwrap()
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

#[test]
fn every_painting_gets_a_stored_track_the_server_then_offers() {
    let data = tempfile::tempdir().unwrap();
    let out = render(data.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: Vec<&str> = stdout.lines().filter(|l| l.contains("/t/")).collect();
    assert!(rendered.len() >= 5, "{stdout}");

    let again = render(data.path());
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        stdout.lines().all(|l| l.contains("already rendered")),
        "{stdout}"
    );

    let mut server = Command::new(BIN)
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .args(["--data", text(data.path()), "--gallery", text(&gallery())])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let response = get(&addr, "/api/gallery");
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    let tracks = body.matches("\"track\":").count();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        tracks,
        rendered.len(),
        "every painting offers its track: {body}"
    );
}
