// The whole product in Chromium with the tiny demo models: a painting uploaded, the four stages
// shown as they happen, the music streamed and played as it arrives (every sample the page
// schedules is a sample the server stored), the share link opened in a fresh page and played,
// the track still there after the server restarts, a gallery painting picked and composed, and,
// with a CLAP model, the track page showing how closely the music matches its words.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  RECORD_SCHEDULED, landscapePng, newContext, openPage, serverAndBrowser, startServer, wavSamples,
} from './harness.mjs';

const app = serverAndBrowser();

async function setSeconds(page, seconds) {
  await page.locator('#seconds').evaluate((input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, seconds);
}

/** Uploads a small landscape through the file input and waits until the server has it. */
async function uploadLandscape(page, width, height) {
  await page.locator('input[data-testid=file-input]').setInputFiles({
    name: 'landscape.png',
    mimeType: 'image/png',
    buffer: landscapePng(width, height),
  });
  await page.locator('[data-testid=upload-status][data-state=uploaded]').waitFor({ timeout: 0 });
}

async function shareUrl(page) {
  const link = page.locator('[data-testid=share-link]');
  await link.waitFor({ timeout: 0 });
  const url = (await link.getAttribute('href')) ?? (await link.inputValue());
  assert.match(url, /\/t\/[A-Za-z0-9_-]{22}$/);
  return url;
}

test('a painting becomes music that plays as it streams, shared and kept across a restart', async () => {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 900 } });
  await context.addInitScript(RECORD_SCHEDULED);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(app.server.url);
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=demo-banner]').waitFor();
  assert.match(await page.locator('[data-testid=demo-banner]').innerText(), /noise/i);

  await uploadLandscape(page, 64, 48);
  await setSeconds(page, 3);
  await page.locator('[data-testid=compose]').click();

  // The stages, each with its result.
  await page.locator('[data-testid=emotion-bars]').waitFor({ timeout: 0 });
  assert.match(await page.locator('[data-testid=emotion-bars]').innerText(), /happy/i);
  await page.locator('[data-testid=caption]').waitFor();
  assert.ok((await page.locator('[data-testid=caption]').innerText()).length > 0);
  await page.locator('[data-testid=description]').waitFor();

  // Playback starts and its clock advances.
  await page.locator('[data-testid=player][data-state=playing]').waitFor({ timeout: 0 });
  const time = page.locator('[data-testid=playback-time]');
  const first = Number(await time.getAttribute('data-seconds'));
  await page.waitForFunction(
    (from) => Number(document.querySelector('[data-testid=playback-time]').dataset.seconds) > from + 0.3,
    first,
  );
  await page.locator('[data-testid=waveform]').waitFor();

  const url = await shareUrl(page);
  const track = url.split('/t/')[1];
  await page.locator('[data-testid=player][data-state=ended]').waitFor({ timeout: 0 });

  // Every sample scheduled, in clock order, is the stored track, sample for sample.
  const scheduled = await page.evaluate(() => window.__scheduled);
  assert.ok(scheduled.length > 1, 'the music was scheduled in several chunks');
  scheduled.sort((a, b) => a.when - b.when);
  for (const s of scheduled) {
    assert.equal(s.rate, 32000);
    assert.equal(s.offset, 0);
    assert.equal(s.duration, null);
  }
  for (let i = 1; i < scheduled.length; i++) {
    const end = scheduled[i - 1].when + scheduled[i - 1].samples.length / 32000;
    assert.ok(Math.abs(scheduled[i].when - end) < 1e-6 || scheduled[i].when > end,
      `chunk ${i} starts where chunk ${i - 1} ends, or after a gap`);
  }
  const played = scheduled.flatMap((s) => s.samples);
  const wav = await page.request.get(`${app.server.url}/api/tracks/${track}/audio.wav`);
  assert.equal(wav.status(), 200);
  const stored = wavSamples(await wav.body());
  assert.equal(played.length, stored.length);
  assert.equal(played.length, 3 * 32000);
  let differing = 0;
  for (let i = 0; i < stored.length; i++) if (Math.fround(played[i]) !== stored[i]) differing++;
  assert.equal(differing, 0, 'the page played exactly the stored samples');

  // The share link in a fresh page: the track page, and its audio plays.
  const fresh = await newContext(app.browser);
  const shared = await fresh.newPage();
  await shared.goto(url);
  await shared.locator('[data-testid=track-page]').waitFor({ timeout: 0 });
  assert.equal(
    await shared.locator('[data-testid=caption]').innerText(),
    await page.locator('[data-testid=caption]').innerText(),
  );
  const audio = shared.locator('[data-testid=track-audio]');
  await audio.evaluate((el) => el.play());
  await shared.waitForFunction(
    () => document.querySelector('[data-testid=track-audio]').currentTime > 0.3,
    null,
    { timeout: 0 },
  );
  assert.equal(await shared.locator('[data-testid=download-wav]').getAttribute('href'),
    `/api/tracks/${track}/audio.wav`);
  await fresh.close();

  // After a restart the track is still there.
  const data = app.server.data;
  await app.server.stop({ keep: true });
  app.server = await startServer([], { data });
  const again = await newContext(app.browser);
  const revisit = await again.newPage();
  await revisit.goto(`${app.server.url}/t/${track}`);
  await revisit.locator('[data-testid=track-page]').waitFor({ timeout: 0 });
  const info = await revisit.request.get(`${app.server.url}/api/tracks/${track}`);
  assert.equal(info.status(), 200);
  await again.close();
  await context.close();
  assert.deepEqual(errors, []);
});

test('a gallery painting is picked and composed', async () => {
  const { page, errors } = await openPage(app.browser, app.server.url);
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  const item = page.locator('[data-testid=gallery-item]').first();
  await item.waitFor({ timeout: 0 });
  const id = await item.getAttribute('data-id');
  assert.ok(id);
  await item.click();
  await setSeconds(page, 2);
  await page.locator('[data-testid=compose]').click();
  const url = await shareUrl(page);
  const info = await (await page.request.get(`${app.server.url}/api/tracks/${url.split('/t/')[1]}`)).json();
  assert.equal(info.gallery, id);
  assert.deepEqual(errors, []);
});

test('with a CLAP model the track page says how closely the music matches the words', async () => {
  const clap = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'tests', 'data', 'clap-tiny');
  const server = await startServer(['--clap', clap]);
  try {
    const { page, errors } = await openPage(app.browser, server.url);
    await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
    await uploadLandscape(page, 40, 30);
    await setSeconds(page, 1);
    await page.locator('[data-testid=compose]').click();
    const url = await shareUrl(page);
    const info = await (await page.request.get(`${server.url}/api/tracks/${url.split('/t/')[1]}`)).json();
    assert.equal(typeof info.clap.emotion, 'number');
    assert.equal(typeof info.clap.music_text, 'number');

    await page.goto(url);
    await page.locator('[data-testid=clap-alignment]').waitFor({ timeout: 0 });
    for (const [testid, value] of [['clap-emotion', info.clap.emotion], ['clap-music-text', info.clap.music_text]]) {
      const shown = await page.locator(`[data-testid=${testid}]`).innerText();
      const number = Number(shown.split(' ')[0].replace('\u2212', '-'));
      assert.ok(Math.abs(number - value) <= 0.0051, `${testid}: "${shown}" shows ${value}`);
    }
    assert.match(await page.locator('[data-testid=clap-alignment]').innerText(), /song/);
    assert.deepEqual(errors, []);
  } finally {
    await server.stop();
  }
});

test('audio arriving slower than real time waits once, says when it starts, then plays without a gap', async () => {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  // Between the server and the page, audio frames are held back to half of real time (32 kHz,
  // 13-byte header, 2 bytes a sample); everything keeps its order.
  const SPEED = 0.5;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    let queue = Promise.resolve();
    server.onMessage((message) => {
      queue = queue.then(async () => {
        if (typeof message !== 'string') {
          const seconds = (message.length - 13) / 2 / 32000;
          await new Promise((resolve) => setTimeout(resolve, (seconds / SPEED) * 1000));
        }
        ws.send(message);
      });
    });
    ws.onMessage((message) => server.send(message));
  });
  // Every state the player shows, in order, and the longest wait it announced.
  await page.addInitScript(() => {
    window.playerStates = [];
    window.longestWait = 0;
    new MutationObserver(() => {
      const player = document.querySelector('[data-testid=player]');
      const state = player?.dataset.state;
      if (state && window.playerStates.at(-1) !== state) window.playerStates.push(state);
      const words = document.querySelector('[data-testid=player-words]')?.textContent ?? '';
      const wait = Number(words.match(/Starts in about (\d+) s/)?.[1] ?? 0);
      window.longestWait = Math.max(window.longestWait, wait);
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await page.goto(app.server.url);
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=gallery-item]').first().click();
  await setSeconds(page, 4);
  await page.locator('[data-testid=compose]').click();
  await page.locator('[data-testid=player][data-state=ended]').waitFor({ timeout: 0 });

  const states = await page.evaluate(() => window.playerStates);
  const started = states.indexOf('playing');
  assert.ok(started > 0, `it played: ${states.join(' → ')}`);
  assert.ok(
    !states.slice(started).includes('buffering'),
    `no underrun once it started: ${states.join(' → ')}`,
  );
  assert.ok(await page.evaluate(() => window.longestWait) >= 2, 'the wait was said');
  assert.deepEqual(errors, []);
  await context.close();
});

