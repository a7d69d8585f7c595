// Shared by the browser tests: start the real server binary on a free port, launch Debian's
// Chromium through playwright-core, and make test images.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { deflateSync } from 'node:zlib';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const required = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with \`cargo xtask test\``);
  return value;
};

/** The demo gallery the repository ships. */
export const GALLERY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public', 'gallery');

/**
 * Starts `ekphrasis serve` with the tiny demo models and the repository's gallery, on a fresh
 * data folder (or `options.data`, to start again where an earlier server stopped); resolves once
 * it is listening. `stop()` keeps the data folder when `options.keep` is set.
 */
export async function startServer(extraArgs = [], options = {}) {
  const data = options.data ?? mkdtempSync(join(tmpdir(), 'ekphrasis-browser-'));
  const child = spawn(
    required('EKPHRASIS_BIN'),
    ['serve', '--demo', '--addr', options.addr ?? '127.0.0.1:0', '--data', data, '--gallery', GALLERY,
      '--static-dir', required('EKPHRASIS_DIST'), ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  const lines = createInterface({ input: child.stdout });
  // However long loading takes: the server says when it listens, or exits saying why not.
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited early (${code})`)));
    lines.on('line', (line) => {
      const match = line.match(/^listening on (http:\/\/\S+)$/);
      if (match) resolve(match[1]);
    });
  });
  return {
    url,
    data,
    async stop({ keep = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!keep) rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium with the flags this closed network needs. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A browser context whose waits have no clock of their own: each lasts until the page shows
 * what is awaited, however busy the machine (a test that hangs is ended by the runner's
 * `--test-timeout`, set by `cargo xtask test`).
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(0);
  return context;
}

/** Opens a page and collects its uncaught errors, so a test can require there were none. */
export async function openPage(browser, url, viewport = { width: 1280, height: 900 }) {
  const context = await newContext(browser, { viewport });
  const page = await context.newPage();
  // The page closed by a test takes its context along; the browser closing after the tests
  // closes both anyway (so that close's failure is no error).
  page.once('close', () => context.close().catch(() => {}));
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(url);
  return { page, errors };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A `width × height` RGB PNG: a warm sky over a dark field, like a small landscape. */
export function landscapePng(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const sky = y < height * 0.6;
      row[1 + x * 3] = sky ? 240 - y : 40 + (x % 7);
      row[2 + x * 3] = sky ? 170 - y : 70;
      row[3 + x * 3] = sky ? 60 + x : 40;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Makes and stores a track for every gallery painting (`ekphrasis gallery render`) with the demo
 * models into the data folder `data`, as an operator does before opening a kiosk.
 */
export async function renderGallery(data, seconds = 2) {
  const child = spawn(
    required('EKPHRASIS_BIN'),
    ['gallery', 'render', '--demo', '--data', data, '--gallery', GALLERY, '--seconds', String(seconds)],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`gallery render failed (${code})`);
}

/** A fresh, empty data folder. */
export function freshData() {
  return mkdtempSync(join(tmpdir(), 'ekphrasis-browser-'));
}

/** The samples of a 16-bit mono WAV as floats, as the page converts them (s / 32768). */
export function wavSamples(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(36, 40)) !== 'data') throw new Error('not a plain WAV');
  const length = view.getUint32(40, true) / 2;
  return Float32Array.from({ length }, (_, i) => view.getInt16(44 + 2 * i, true) / 32768);
}

/** Records every buffer the page schedules, with its start time on its audio clock. */
export const RECORD_SCHEDULED = () => {
  window.__scheduled = [];
  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (when = 0, offset = 0, duration) {
    if (this.buffer) {
      window.__scheduled.push({
        when,
        offset,
        duration: duration ?? null,
        rate: this.buffer.sampleRate,
        samples: Array.from(this.buffer.getChannelData(0)),
      });
    }
    return start.apply(this, arguments);
  };
};

/**
 * Starts the server and Chromium before a test file's tests and stops them after. With
 * `renderGallerySeconds`, the gallery's music is rendered first (as for a kiosk). Tests read
 * `app.server` and `app.browser`, and may put a restarted server in `app.server`.
 */
export function serverAndBrowser({ renderGallerySeconds } = {}) {
  const app = { server: null, browser: null };
  before(async () => {
    const data = freshData();
    if (renderGallerySeconds) await renderGallery(data, renderGallerySeconds);
    app.server = await startServer([], { data });
    app.browser = await launchBrowser();
  });
  after(async () => {
    await app.browser?.close();
    await app.server?.stop();
  });
  return app;
}
