// Accessibility in Chromium with the demo models: axe-core finds no violation, of any impact,
// on any page of the app (home before and after composing, a track's page, the
// kiosk's loop, visit and upload screens, a missing page); every stage's finding is announced
// through a live region; the whole flow works from the keyboard with a visible focus; the
// painting is read aloud before its music when asked; the caption becomes the painting's alt text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { landscapePng, newContext, serverAndBrowser } from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const app = serverAndBrowser({ renderGallerySeconds: 2 });

/** Every axe-core violation on the page, as readable lines. */
async function violationsOf(page) {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return violations
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.slice(0, 3).join(', ')})`);
}

async function newPage(initScript, { bypassCSP = false } = {}) {
  const context = await newContext(app.browser, { viewport: { width: 1280, height: 900 }, bypassCSP });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  return { context, page, errors };
}

async function composeUpload(page) {
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  await page.locator('input[data-testid=file-input]').setInputFiles({
    name: 'landscape.png',
    mimeType: 'image/png',
    buffer: landscapePng(64, 48),
  });
  await page.locator('[data-testid=upload-status][data-state=uploaded]').waitFor({ timeout: 0 });
  await page.locator('#seconds').evaluate((input) => {
    input.value = '2';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.locator('[data-testid=compose]').click();
}

test('axe-core finds no violations, of any impact, on any page', async () => {
  // axe-core goes in as an inline script, which the server's Content-Security-Policy rightly
  // blocks; the other browser tests run the app under that policy.
  const { context, page, errors } = await newPage(undefined, { bypassCSP: true });
  const found = {};
  const check = async (name) => {
    // Colours are read as shown: let the buttons' short colour transitions finish first.
    await page.waitForFunction(() => document.getAnimations()
      .filter((a) => a instanceof CSSTransition)
      .every((a) => a.playState !== 'running'));
    found[name] = await violationsOf(page);
  };

  await page.goto(app.server.url);
  await page.locator('[data-testid=gallery-item]').first().waitFor({ timeout: 0 });
  await check('home');
  await composeUpload(page);
  const link = page.locator('[data-testid=share-link]');
  await link.waitFor({ timeout: 0 });
  await check('home, composed');
  const url = (await link.getAttribute('href')) ?? (await link.inputValue());

  await page.goto(url);
  await page.locator('[data-testid=track-page]').waitFor({ timeout: 0 });
  await check('track page');

  await page.goto(`${app.server.url}/no/such/page`);
  await page.locator('main').waitFor();
  await check('missing page');

  await page.goto(`${app.server.url}/kiosk?upload=1&dwell=30`);
  await page.locator('[data-testid=kiosk-item]').first().waitFor({ timeout: 0 });
  await check('kiosk loop');
  await page.locator('[data-testid=kiosk-item]').first().click();
  await page.locator('[data-testid=qr-code]').waitFor({ timeout: 0 });
  await check('kiosk visit');
  await page.locator('[data-testid=visit-back]').click();
  await page.locator('[data-testid=kiosk-own]').click();
  await page.locator('[data-testid=kiosk-photo]').waitFor();
  await check('kiosk upload');

  const all = Object.entries(found).flatMap(([name, lines]) => lines.map((l) => `${name}: ${l}`));
  assert.deepEqual(all, []);
  await context.close();
  assert.deepEqual(errors, []);
});

test('each stage\'s finding is announced, and the caption becomes the painting\'s alt text', async () => {
  const { context, page, errors } = await newPage();
  await page.goto(app.server.url);
  await composeUpload(page);
  await page.locator('[data-testid=share-link]').waitFor({ timeout: 0 });
  const region = page.locator('[data-testid=announcer]');
  assert.equal(await region.getAttribute('aria-live'), 'polite');
  const lines = await region.locator('p').allInnerTexts();
  const caption = await page.locator('[data-testid=caption]').innerText();
  const description = await page.locator('[data-testid=description]').innerText();
  assert.match(lines[0], /^Emotion: the painting feels (happy|angry|sad|fun|neutral) \(\d+ percent\)\.$/);
  assert.ok(lines.some((l) => l.startsWith('Caption: ') && l.includes(caption.trim())), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('Musical description: ')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('Your music is ready')), lines.join('\n'));
  assert.ok(description.length > 0);
  assert.equal(await page.locator('[data-testid=preview]').getAttribute('alt'), `The painting: ${caption.trim()}`);
  await context.close();
  assert.deepEqual(errors, []);
});

test('the whole flow works from the keyboard, with a visible focus', async () => {
  const { context, page, errors } = await newPage();
  await page.goto(app.server.url);
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=gallery-item]').first().waitFor({ timeout: 0 });

  /** Presses Tab until the focused element matches `selector`; returns its outline. */
  const tabTo = async (selector) => {
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const outline = await page.evaluate((s) => {
        const el = document.activeElement;
        if (!el?.matches(s)) return null;
        const style = getComputedStyle(el);
        return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
      }, selector);
      if (outline) return outline;
    }
    throw new Error(`Tab never reached ${selector}`);
  };

  const first = await tabTo('[data-testid=gallery-item]');
  assert.notEqual(first.style, 'none');
  assert.ok(first.width >= 2, 'the focus ring is visible');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid=gallery-item][aria-pressed=true]').waitFor();
  await page.locator('#seconds').focus();
  for (let i = 0; i < 13; i++) await page.keyboard.press('ArrowLeft');
  assert.equal(await page.locator('#seconds').inputValue(), '2');
  await tabTo('[data-testid=compose]');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid=share-link]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=player][data-state=ended]').waitFor({ timeout: 0 });
  await tabTo('[data-testid=play]');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid=player][data-state=playing]').waitFor({ timeout: 0 });
  await context.close();
  assert.deepEqual(errors, []);
});

/** Stands in for speech synthesis: keeps what is said and ends each reading after 1.5 s. */
const RECORD_SPEECH = () => {
  window.__spoken = [];
  const synthesis = {
    speaking: false,
    pending: false,
    cancel() {},
    speak(utterance) {
      window.__spoken.push({ text: utterance.text, at: performance.now() });
      this.speaking = true;
      setTimeout(() => {
        this.speaking = false;
        window.__spokenEnd = performance.now();
        utterance.onend?.(new Event('end'));
      }, 1500);
    },
  };
  Object.defineProperty(window, 'speechSynthesis', { value: synthesis });
};

test('the painting is read aloud before its music when asked', async () => {
  const { context, page, errors } = await newPage(RECORD_SPEECH);
  await page.goto(app.server.url);
  await page.locator('[data-testid=read-aloud]').check();
  await composeUpload(page);
  await page.locator('[data-testid=player][data-state=reading]').waitFor({ timeout: 0 });
  await page.locator('[data-testid=player][data-state=playing]').waitFor({ timeout: 0 });
  const spoken = await page.evaluate(() => window.__spoken);
  assert.equal(spoken.length, 1, 'read once');
  const caption = await page.locator('[data-testid=caption]').innerText();
  assert.match(spoken[0].text, /^The painting feels (happy|angry|sad|fun|neutral)\./);
  assert.ok(spoken[0].text.includes(caption.trim()), spoken[0].text);
  assert.ok(spoken[0].text.includes('The music: '), spoken[0].text);
  // The music waited for the words.
  const position = Number(await page.locator('[data-testid=playback-time]').getAttribute('data-seconds'));
  const sinceEnd = await page.evaluate(() => (performance.now() - window.__spokenEnd) / 1000);
  assert.ok(position <= sinceEnd + 0.1, `played ${position} s, ${sinceEnd} s after the reading`);

  // A track's page reads it aloud, then plays it.
  const link = page.locator('[data-testid=share-link]');
  await link.waitFor({ timeout: 0 });
  await page.goto((await link.getAttribute('href')) ?? (await link.inputValue()));
  await page.locator('[data-testid=read-then-play]').click();
  await page.waitForFunction(() => window.__spoken.length === 1);
  assert.ok((await page.evaluate(() => window.__spoken[0].text)).includes(caption.trim()));
  assert.equal(await page.locator('[data-testid=track-audio]').evaluate((a) => a.paused), true,
    'the music waits for the words');
  await page.waitForFunction(
    () => document.querySelector('[data-testid=track-audio]').currentTime > 0.2, null, { timeout: 0 },
  );
  await context.close();
  assert.deepEqual(errors, []);
});

test('the kiosk reads a painting aloud before its music when set to', async () => {
  const { context, page, errors } = await newPage(RECORD_SPEECH);
  await page.goto(`${app.server.url}/kiosk?speak=1&dwell=30`);
  const item = page.locator('[data-testid=kiosk-item]').nth(1);
  await item.waitFor({ timeout: 0 });
  const id = await item.getAttribute('data-id');
  const gallery = await (await fetch(`${app.server.url}/api/gallery`)).json();
  const track = gallery.find((i) => i.id === id).track;
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid=kiosk]').dataset.pieces) > 1, null, { timeout: 0 },
  );
  await item.click();
  await page.waitForFunction(() => window.__spoken.length === 1);
  const info = await (await fetch(`${app.server.url}/api/tracks/${track}`)).json();
  const spoken = await page.evaluate(() => window.__spoken[0].text);
  assert.ok(spoken.startsWith(`The painting feels ${info.emotion}.`), spoken);
  assert.notEqual(await page.locator('[data-testid=kiosk]').getAttribute('data-last-started'), track);
  await page.waitForFunction(
    (t) => document.querySelector('[data-testid=kiosk]').dataset.lastStarted === t, track, { timeout: 0 },
  );
  const waited = await page.evaluate(() => performance.now() - window.__spoken[0].at);
  assert.ok(waited >= 1400, `the music began ${waited} ms after the words began`);
  await context.close();
  assert.deepEqual(errors, []);
});
