// The museum kiosk in Chromium with the demo models and a pre-rendered gallery: the attract loop
// advances and plays each painting's stored music; touching a painting plays its piece with its
// words and a QR code that decodes to its share link; left alone it returns to the loop; the
// screen is kept awake and goes full screen on the first touch; no links out and no upload
// unless allowed (then a visitor's painting is composed live); and it plays on through a server
// restart, then reconnects.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  RECORD_SCHEDULED, landscapePng, newContext, serverAndBrowser, startServer, wavSamples,
} from './harness.mjs';

const jsQR = createRequire(import.meta.url)('jsqr');

const app = serverAndBrowser({ renderGallerySeconds: 2 });

/** Stands in for the wake lock and full screen, counting what the page asks of them. */
const RECORD_SCREEN = () => {
  window.__wakeLocks = [];
  window.__fullscreen = 0;
  Object.defineProperty(navigator, 'wakeLock', {
    value: {
      request: async (type) => {
        window.__wakeLocks.push(type);
        return { released: false, release: async () => {} };
      },
    },
  });
  Element.prototype.requestFullscreen = function () {
    window.__fullscreen += 1;
    return Promise.resolve();
  };
};

async function openKiosk(query, ...initScripts) {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 800 } });
  for (const script of [RECORD_SCHEDULED, ...initScripts]) await context.addInitScript(script);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${app.server.url}/kiosk${query}`);
  await page.locator('[data-testid=kiosk][data-mode=attract]').waitFor({ timeout: 0 });
  return { context, page, errors };
}

async function gallery() {
  const response = await fetch(`${app.server.url}/api/gallery`);
  assert.equal(response.status, 200);
  const items = await response.json();
  assert.ok(items.length >= 3);
  assert.ok(items.every((item) => item.track), 'gallery render made a track for every painting');
  return items;
}

async function storedSamples(track) {
  const wav = await fetch(`${app.server.url}/api/tracks/${track}/audio.wav`);
  return wavSamples(new Uint8Array(await wav.arrayBuffer()));
}

/** Reads the QR code the page shows. */
async function readQr(page) {
  const canvas = page.locator('[data-testid=qr-code]');
  await canvas.waitFor({ timeout: 0 });
  const { width, height, pixels } = await canvas.evaluate((el) => {
    const data = el.getContext('2d').getImageData(0, 0, el.width, el.height);
    return { width: el.width, height: el.height, pixels: Array.from(data.data) };
  });
  const code = jsQR(Uint8ClampedArray.from(pixels), width, height);
  assert.ok(code, 'the QR code can be read');
  return code.data;
}

test('the attract loop advances through the paintings and plays their stored music', async () => {
  const items = await gallery();
  const { context, page, errors } = await openKiosk('?dwell=2');
  // The loop runs on its own clock: wait for what the page reports, and read what it shows in
  // the same moment as what it plays (a busy machine may be slow, never wrong).
  await page.waitForFunction(
    () => document.querySelector('[data-testid=kiosk]').dataset.lastStarted, null, { timeout: 0 },
  );
  const first = await page.evaluate(() => ({
    index: Number(document.querySelector('[data-testid=attract]').dataset.index),
    playing: document.querySelector('[data-testid=kiosk]').dataset.lastStarted,
    scheduled: window.__scheduled.length,
  }));
  assert.equal(first.playing, items[first.index].track, 'the painting shown is the one heard');
  const next = items[(first.index + 1) % items.length];
  const moment = await page.waitForFunction(
    (track) => {
      const kiosk = document.querySelector('[data-testid=kiosk]');
      if (kiosk.dataset.lastStarted !== track) return null;
      const shown = [...document.querySelectorAll('.attract-slide.shown')];
      return {
        id: document.querySelector('[data-testid=attract]').dataset.id,
        shown: shown.map((img) => img.getAttribute('src')),
        mode: kiosk.dataset.mode,
        scheduled: window.__scheduled.length,
      };
    },
    next.track, { timeout: 0 },
  ).then((handle) => handle.jsonValue());
  const scheduled = await page.evaluate(
    ([from, to]) => window.__scheduled.slice(from, to), [moment.scheduled - 2, moment.scheduled],
  );
  assert.equal(moment.id, next.id);
  // One painting shows at a time, the current one.
  assert.deepEqual(moment.shown, [next.image_url]);
  assert.equal(moment.mode, 'attract');

  // What played is what the server stored for each painting, sample for sample.
  assert.equal(scheduled.length, 2, 'two pieces scheduled');
  for (const [i, item] of [items[first.index], next].entries()) {
    const stored = await storedSamples(item.track);
    const played = Float32Array.from(scheduled[i].samples);
    assert.equal(played.length, stored.length, `piece ${i} length`);
    assert.ok(played.every((s, j) => s === stored[j]), `piece ${i} samples`);
  }
  await context.close();
  assert.deepEqual(errors, []);
});

test('touching a painting plays its piece with its words and a QR code of its share link', async () => {
  const items = await gallery();
  const { context, page, errors } = await openKiosk('?dwell=30', RECORD_SCREEN);
  const item = items[2];
  await page.locator(`[data-testid=kiosk-item][data-id="${item.id}"]`).click();
  await page.locator('[data-testid=kiosk][data-mode=visit]').waitFor();
  await page.waitForFunction(
    (track) => document.querySelector('[data-testid=kiosk]').dataset.lastStarted === track,
    item.track, { timeout: 0 },
  );
  const info = await (await fetch(`${app.server.url}/api/tracks/${item.track}`)).json();
  const emotion = page.locator('[data-testid=visit-emotion]');
  await emotion.waitFor();
  assert.equal(await emotion.getAttribute('data-emotion'), info.emotion);
  assert.equal(await page.locator('[data-testid=caption]').innerText(), info.caption);
  const words = (text) => text.replace(/\s+/g, ' ').trim();
  assert.equal(words(await page.locator('[data-testid=description]').innerText()), words(info.description));
  // Large type, readable from a step back.
  const size = await emotion.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  assert.ok(size >= 24, `the emotion is ${size}px`);
  assert.equal(await readQr(page), `${app.server.url}/t/${item.track}`);

  // The first touch took the whole screen, once; the screen is kept awake.
  assert.equal(await page.evaluate(() => window.__fullscreen), 1);
  assert.deepEqual(await page.evaluate(() => window.__wakeLocks), ['screen']);
  assert.equal(await page.locator('[data-testid=kiosk]').getAttribute('data-wake-lock'), 'held');

  // Hear it again starts it over; back goes to the loop.
  const before = await page.evaluate(() => window.__scheduled.length);
  await page.locator('[data-testid=visit-replay]').click();
  await page.waitForFunction((n) => window.__scheduled.length > n, before);
  assert.equal(await page.evaluate(() => window.__fullscreen), 1, 'full screen is asked for once');
  await page.locator('[data-testid=visit-back]').click();
  await page.locator('[data-testid=kiosk][data-mode=attract]').waitFor();
  await context.close();
  assert.deepEqual(errors, []);
});

test('findings too long for the screen say they scroll, until their end is in view; the demo notice is readable', async () => {
  const items = await gallery();
  const { context, page, errors } = await openKiosk('?dwell=30');
  const notice = page.locator('[data-testid=demo-banner]');
  const noticeSize = await notice.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  assert.ok(noticeSize >= 16, `the demo notice is ${noticeSize}px`);

  await page.setViewportSize({ width: 1280, height: 480 });
  await page.locator(`[data-testid=kiosk-item][data-id="${items[1].id}"]`).click();
  await page.locator('[data-testid=description]').waitFor();
  const findings = page.locator('.visit-findings');
  const overflowing = await findings.evaluate((el) => el.scrollHeight > el.clientHeight + 4);
  assert.ok(overflowing, 'the findings are longer than the screen here');
  await page.locator('[data-testid=scroll-cue]').waitFor();
  await findings.evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await page.locator('[data-testid=scroll-cue]').waitFor({ state: 'detached' });
  await context.close();
  assert.deepEqual(errors, []);
});

test('left alone, a visit returns to the attract loop', async () => {
  const items = await gallery();
  const { context, page, errors } = await openKiosk('?idle=3&dwell=30');
  await page.locator(`[data-testid=kiosk-item][data-id="${items[0].id}"]`).click();
  await page.locator('[data-testid=kiosk][data-mode=visit]').waitFor();
  const started = Date.now();
  await page.locator('[data-testid=kiosk][data-mode=attract]').waitFor({ timeout: 0 });
  const waited = (Date.now() - started) / 1000;
  assert.ok(waited > 2 && waited < 6, `returned after ${waited} s`);
  // The loop goes on after the painting that was visited, with its music.
  await page.locator(`[data-testid=attract][data-id="${items[1].id}"]`).waitFor();
  await page.waitForFunction(
    (track) => document.querySelector('[data-testid=kiosk]').dataset.lastStarted === track,
    items[1].track, { timeout: 0 },
  );
  await context.close();
  assert.deepEqual(errors, []);
});

test('no links out, and no upload unless the address allows it; then a visitor\'s painting is composed', async () => {
  const closed = await openKiosk('');
  assert.equal(await closed.page.locator('a[href]').count(), 0, 'no links out of the kiosk');
  assert.equal(await closed.page.locator('input[type=file]').count(), 0);
  assert.equal(await closed.page.locator('[data-testid=kiosk-own]').count(), 0);
  await closed.context.close();

  const { context, page, errors } = await openKiosk('?upload=1&idle=60');
  await page.locator('[data-testid=kiosk-own]').click();
  await page.locator('[data-testid=kiosk][data-mode=own]').waitFor();
  await page.locator('[data-testid=kiosk-photo]').waitFor();
  assert.equal(
    await page.locator('[data-testid=kiosk-camera-input]').getAttribute('capture'),
    'environment',
  );
  // Every status line the visit shows while the piece is made.
  await page.evaluate(() => {
    window.visitStatuses = [];
    new MutationObserver(() => {
      const line = document.querySelector('[data-testid=visit-status]')?.textContent;
      if (line && window.visitStatuses.at(-1) !== line) window.visitStatuses.push(line);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.locator('input[data-testid=kiosk-file-input]').setInputFiles({
    name: 'painting.png',
    mimeType: 'image/png',
    buffer: landscapePng(64, 48),
  });
  // The chain runs and streams as on the home page; the finished piece's link is the QR code.
  await page.locator('[data-testid=visit-emotion]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=caption]').waitFor({ timeout: 0 });
  // Composing takes as long as the machine needs: wait for the page to say it ended.
  const ended = page.locator(
    '[data-testid=kiosk-visit][data-phase=done], [data-testid=kiosk-visit][data-phase=failed]',
  );
  await ended.waitFor({ timeout: 0 });
  assert.equal(await ended.getAttribute('data-phase'), 'done', 'the visitor\'s piece was made');
  // The visitor saw which step it was at.
  const statuses = await page.evaluate(() => window.visitStatuses);
  assert.ok(statuses.some((line) => /^Step 1 of \d: /.test(line)), statuses.join(' | '));
  const link = await readQr(page);
  assert.match(link, new RegExp(`^${app.server.url}/t/[A-Za-z0-9_-]{22}$`));
  const track = link.split('/t/')[1];
  const info = await fetch(`${app.server.url}/api/tracks/${track}`);
  assert.equal(info.status, 200);
  assert.equal((await info.json()).caption, await page.locator('[data-testid=caption]').innerText());
  const scheduled = await page.evaluate(() => window.__scheduled.length);
  assert.ok(scheduled > 0, 'the visitor\'s music was played as it streamed');
  await page.locator('[data-testid=visit-back]').click();
  await page.locator('[data-testid=kiosk][data-mode=attract]').waitFor();
  await context.close();
  assert.deepEqual(errors, []);
});

test('the kiosk plays on through a server restart and reconnects', async () => {
  const items = await gallery();
  const { context, page, errors } = await openKiosk('?dwell=2&idle=60');
  const kiosk = page.locator('[data-testid=kiosk]');
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid=kiosk]').dataset.pieces) === n,
    items.length, { timeout: 0 },
  );
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });

  const port = new URL(app.server.url).port;
  const data = app.server.data;
  await app.server.stop({ keep: true });
  await page.locator('[data-testid=connection]:not([data-state=connected])').waitFor({ timeout: 0 });

  // With the server away, the loop goes on and its music still plays from what it kept.
  const startsNow = Number(await kiosk.getAttribute('data-starts'));
  await page.waitForFunction(
    (was) => Number(document.querySelector('[data-testid=kiosk]').dataset.starts) >= was + 2,
    startsNow, { timeout: 0 },
  );
  // A visitor can still hear a painting and take its link.
  await page.locator(`[data-testid=kiosk-item][data-id="${items[3].id}"]`).click();
  await page.waitForFunction(
    (track) => document.querySelector('[data-testid=kiosk]').dataset.lastStarted === track,
    items[3].track, { timeout: 0 },
  );
  assert.equal(await readQr(page), `${app.server.url}/t/${items[3].track}`);
  await page.locator('[data-testid=visit-back]').click();

  app.server = await startServer([], { data, addr: `127.0.0.1:${port}` });
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  assert.equal(await kiosk.getAttribute('data-mode'), 'attract');
  await context.close();
  assert.deepEqual(errors, []);
});
