//! What amplifies in memory (issue 16). A tiny PNG whose iCCP chunk inflates to 100 MB, and a
//! 1.9 KB lossless WebP of 7000² pixels at the default pixel limit, each sent six at once, stay
//! within the stated budget (at most `DECODES_AT_ONCE` decodes of `decode_budget(max_pixels)`
//! bytes each) and the server goes on answering; idle WebSockets cost a small, stated amount
//! each. Its own test binary, one test, so no other test's memory is in a measured peak.

use ekphrasis_e2e::{TestServer, images};
use ekphrasis_server::config::ServeConfig;
use ekphrasis_server::upload::{DECODES_AT_ONCE, decode_budget};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const MAX_PIXELS: u64 = 1_000_000;
/// What the iCCP chunk inflates to.
const BOMB_BYTES: u64 = 100_000_000;

/// A zlib stream of `len` zero bytes in about len / 160 bytes: one fixed-Huffman block of a
/// literal zero, then back-references of 258 bytes at distance 1.
fn zlib_zeros(len: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first (deflate's order for headers).
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, count: u32) {
            let reversed = (0..count).fold(0, |r, i| (r << 1) | ((code >> i) & 1));
            self.put(reversed, count);
        }
    }
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0b0011_0000, 8); // literal 0
    let mut left = len - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0b0011_0000, 8);
    }
    bits.code(0, 7); // end of block (code 256)
    if bits.n > 0 {
        bits.put(0, 8 - bits.n);
    }
    let mut out = bits.out;
    // Adler-32 of zeros: a stays 1, b adds it once a byte.
    let adler = ((len % 65_521) << 16) | 1;
    out.extend_from_slice(&(adler as u32).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real PNG with an iCCP chunk spliced in after its header.
fn png_with_icc_bomb() -> Vec<u8> {
    let png = images::png(16, 16);
    let after_header = 8 + 4 + 4 + 13 + 4;
    let mut data = b"icc\0\0".to_vec();
    data.extend(zlib_zeros(BOMB_BYTES));
    let mut out = png[..after_header].to_vec();
    out.extend(chunk(b"iCCP", &data));
    out.extend(&png[after_header..]);
    out
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A PNG chunk: length, type, data, CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut typed = kind.to_vec();
    typed.extend(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend(&typed);
    out.extend(crc32(&typed).to_be_bytes());
    out
}

#[test]
fn the_zlib_stream_inflates_to_the_zeros_it_says() {
    // A black 400 × 300 RGB image whose pixel data is the stream: a decoder must inflate it to
    // exactly 300 rows of a filter byte and 1200 zero bytes.
    let (width, height) = (400u32, 300u32);
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(
        b"IDAT",
        &zlib_zeros(u64::from(height) * (1 + 3 * u64::from(width))),
    ));
    png.extend(chunk(b"IEND", &[]));
    let image = image::load_from_memory(&png)
        .expect("a valid PNG")
        .to_rgb8();
    assert_eq!(image.dimensions(), (width, height));
    assert!(image.pixels().all(|p| p.0 == [0, 0, 0]));
    assert!(png.len() < 3_000, "{} bytes", png.len());
}

/// A 7000 × 7000 lossless WebP of one colour: 1,934 bytes that decode to 49 megapixels, just
/// inside the default pixel limit. Made with Pillow 13.0.0:
/// `Image.new("RGB", (7000, 7000), (200, 120, 40)).save(path, "WEBP", lossless=True)`.
const UNIFORM_WEBP: &[u8] = include_bytes!("../fixtures/uniform-7000x7000-lossless.webp");

/// Sends `body` six times at once to a fresh server with `max_pixels`; checks the answers, the
/// peak memory against the budget, and that health still answers. Returns the growth in bytes.
async fn six_at_once(name: &str, body: Vec<u8>, max_pixels: u64) -> u64 {
    let server = TestServer::start_with(|config| config.max_pixels = max_pixels).await;
    let budget = decode_budget(max_pixels);

    // The peak resident memory from here on.
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak");
    let before = status_kib("VmRSS:") * 1024;
    let uploads = (0..6).map(|_| {
        let (url, body) = (server.url("/api/images"), body.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let statuses = futures_util::future::join_all(uploads).await;
    let peak = status_kib("VmHWM:") * 1024;
    let grew = peak.saturating_sub(before);
    eprintln!(
        "six {name} at once ({max_pixels} px limit): peak grew by {:.1} MB (budget {:.1} MB × \
         {DECODES_AT_ONCE})",
        grew as f64 / 1e6,
        budget as f64 / 1e6
    );
    for status in statuses {
        let status = status.unwrap();
        assert!(
            status.is_success() || status.as_u16() == 422,
            "{name}: answered {status}"
        );
    }
    // The decodes, plus 64 MiB for the uploads' bytes and the runtime.
    assert!(
        grew < budget * DECODES_AT_ONCE as u64 + (64 << 20),
        "{name}: peak grew by {grew} bytes"
    );
    let health = reqwest::get(server.url("/api/health")).await.unwrap();
    assert!(health.status().is_success());
    server.stop().await;
    grew
}

/// The most an idle WebSocket may cost, server and client together (the client here reads
/// into 4 KiB). With tungstenite's default 128 KiB read buffer it was 144 KB.
const IDLE_SOCKET_BYTES: u64 = 48_000;

/// Opens `count` sockets that say hello and then nothing; returns the growth per socket.
async fn idle_websockets(count: usize) -> u64 {
    let server = TestServer::start_with(|config| config.max_connections = count + 16).await;
    let before = status_kib("VmRSS:") * 1024;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(server.ws_url(), Some(config), false)
                .await
                .expect("a socket");
        socket.next().await.expect("the server's hello").unwrap();
        socket
            .send(Message::text(r#"{"type":"hello","protocol":1}"#))
            .await
            .unwrap();
        sockets.push(socket);
    }
    // Every session has read the hello once the last one has (they are handled in order).
    let last = sockets.last_mut().unwrap();
    last.send(Message::text(r#"{"type":"cancel"}"#))
        .await
        .unwrap();
    last.next().await.expect("an answer").unwrap();
    let after = status_kib("VmRSS:") * 1024;
    let each = after.saturating_sub(before) / count as u64;
    eprintln!(
        "{count} idle WebSockets: memory grew {:.1} MB, {:.1} KB each (server and client)",
        after.saturating_sub(before) as f64 / 1e6,
        each as f64 / 1e3
    );
    drop(sockets);
    server.stop().await;
    each
}

/// One test, so the measurements never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplifying_uploads_and_idle_sockets_stay_within_their_budgets() {
    // First, before the decodes leave freed memory for the sockets to reuse.
    let each = idle_websockets(1000).await;
    assert!(each < IDLE_SOCKET_BYTES, "{each} bytes a socket");

    let bomb = png_with_icc_bomb();
    assert!(bomb.len() < 1_000_000, "{} bytes", bomb.len());
    six_at_once(
        &format!("iCCP bombs of {} MB", BOMB_BYTES / 1_000_000),
        bomb,
        MAX_PIXELS,
    )
    .await;

    assert!(UNIFORM_WEBP.len() < 2_000);
    six_at_once(
        "7000² lossless WebPs of 1.9 KB",
        UNIFORM_WEBP.to_vec(),
        ServeConfig::DEFAULT_MAX_PIXELS,
    )
    .await;
}
