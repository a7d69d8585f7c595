// A piece goes on when the page's connection drops. Playwright's WebSocket routing sits between
// Chromium and the server: the test cuts the first socket (both ends) after a few audio frames,
// holds the page's next socket until the page shows it is reconnecting, then lets it through.
// The page resumes from the frames it has and the piece completes with all its audio, sample for
// sample the stored track; a piece cancelled while the page reconnects is cancelled at the
// server once the page is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RECORD_SCHEDULED, newContext, serverAndBrowser, wavSamples } from './harness.mjs';

const app = serverAndBrowser();

async function setSeconds(page, seconds) {
  await page.locator('#seconds').evaluate((input, value) => {
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, seconds);
}

/**
 * Routes the page's sockets: the first is cut after `framesBeforeCut` audio frames reach the
 * page; later ones wait for `release()`. Records the job's id and what crossed each later
 * socket.
 */
async function cutAfterFrames(page, framesBeforeCut) {
  const route = { job: null, sent: [], received: [], release: null, cut: null };
  const released = new Promise((resolve) => { route.release = resolve; });
  route.cut = new Promise((resolve) => { route.cutDone = resolve; });
  let sockets = 0;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    sockets += 1;
    if (sockets === 1) {
      const server = ws.connectToServer();
      let frames = 0;
      let open = true;
      server.onMessage((message) => {
        if (!open) return;
        if (typeof message === 'string') {
          const parsed = JSON.parse(message);
          if (parsed.type === 'accepted') route.job = parsed.job;
        }
        ws.send(message);
        if (typeof message !== 'string' && ++frames === framesBeforeCut) {
          open = false;
          server.close({ code: 4000, reason: 'cut by the test' });
          ws.close({ code: 4000, reason: 'cut by the test' });
          route.cutDone();
        }
      });
      ws.onMessage((message) => { if (open) server.send(message); });
      return;
    }
    let server = null;
    const pending = [];
    ws.onMessage((message) => {
      route.sent.push(JSON.parse(message));
      if (server) server.send(message);
      else pending.push(message);
    });
    released.then(() => {
      server = ws.connectToServer();
      server.onMessage((message) => {
        if (typeof message === 'string') route.received.push(JSON.parse(message));
        ws.send(message);
      });
      for (const message of pending) server.send(message);
    });
  });
  return route;
}

/** Opens the home page, picks the first gallery painting and sets the piece's length. */
async function ready(page, seconds) {
  await page.goto(app.server.url);
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=gallery-item]').first().click();
  await setSeconds(page, seconds);
}

test('a piece goes on across a dropped connection and plays whole', async () => {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 900 } });
  await context.addInitScript(RECORD_SCHEDULED);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const route = await cutAfterFrames(page, 3);
  await ready(page, 4);
  await page.locator('[data-testid=compose]').click();

  await route.cut;
  // The page keeps the piece and says it is reconnecting.
  const status = page.locator('[data-testid=status][data-link=lost][data-phase=running]');
  await status.waitFor({ timeout: 0 });
  assert.match(await status.innerText(), /Reconnecting/);
  route.release();

  // Back on a new socket: it resumed from the three frames it had, and the piece finished.
  await page.locator('[data-testid=status][data-phase=done]').waitFor({ timeout: 0 });
  const resume = route.sent.find((m) => m.type === 'resume');
  assert.deepEqual(resume, { type: 'resume', job: route.job, from_frame: 3 });
  const done = route.received.find((m) => m.type === 'done');
  assert.equal(done.job, route.job);
  assert.equal(await page.locator('[data-testid=status]').getAttribute('data-link'), 'live');
  await page.locator('[data-testid=player][data-state=ended]').waitFor({ timeout: 0 });

  // Every sample scheduled, in clock order, is the stored track, sample for sample.
  const scheduled = await page.evaluate(() => window.__scheduled);
  scheduled.sort((a, b) => a.when - b.when);
  for (let i = 1; i < scheduled.length; i++) {
    const end = scheduled[i - 1].when + scheduled[i - 1].samples.length / 32000;
    assert.ok(Math.abs(scheduled[i].when - end) < 1e-6 || scheduled[i].when > end,
      `chunk ${i} starts where chunk ${i - 1} ends, or after a gap`);
  }
  const played = scheduled.flatMap((s) => s.samples);
  const wav = await page.request.get(`${app.server.url}/api/tracks/${done.track}/audio.wav`);
  assert.equal(wav.status(), 200);
  const stored = wavSamples(await wav.body());
  assert.equal(stored.length, 4 * 32000);
  assert.equal(played.length, stored.length);
  let differing = 0;
  for (let i = 0; i < stored.length; i++) if (Math.fround(played[i]) !== stored[i]) differing++;
  assert.equal(differing, 0, 'the page played exactly the stored samples');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a piece cancelled while the page reconnects is cancelled once it is back', async () => {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const route = await cutAfterFrames(page, 2);
  await ready(page, 120);
  await page.locator('[data-testid=compose]').click();

  await route.cut;
  await page.locator('[data-testid=status][data-link=lost]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=cancel]').click();
  await page.locator('[data-testid=status][data-phase=cancelling]').waitFor({ timeout: 0 });
  route.release();

  await page.locator('[data-testid=status][data-phase=cancelled]').waitFor({ timeout: 0 });
  assert.deepEqual(
    route.sent.filter((m) => m.type !== 'hello').map((m) => m.type),
    ['resume', 'cancel'],
    'the cancel follows the resume',
  );
  const last = route.received.at(-1);
  assert.equal(last.type, 'error');
  assert.equal(last.code, 'cancelled', 'the server stopped it');
  assert.equal(last.job, route.job);
  assert.deepEqual(errors, []);
  await context.close();
});
