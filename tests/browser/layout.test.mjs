// The app as a first-time visitor meets it, at a desktop's 1280×800 and a phone's 390×844 (issue
// 17): once a painting is chosen Compose is in view without scrolling and the results say what
// comes next; keyboard focus follows Compose, then the finished piece; hostile text from a
// description (a 400-letter word, control characters, a right-to-left override, emoji, HTML)
// wraps inside the page on the home page and the piece's page, is shown without its control
// characters and never as markup, and stays out of the share preview.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, serverAndBrowser } from './harness.mjs';

const app = serverAndBrowser();

const SIZES = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
];

const LONG_WORD = 'Glissando'.repeat(45);
const HOSTILE = `${LONG_WORD} slow\u0000 strings\u0007 \u202Ereversed\u202C مرحبا \u200F 🎻🌧️ <img src=x onerror="window.injected=1"> <b>bold</b>`;

/** Picks the first gallery painting, with two seconds of music. */
async function pickPainting(page) {
  await page.locator('[data-testid=connection][data-state=connected]').waitFor();
  await page.locator('[data-testid=gallery-item]').first().click();
  await page.locator('#seconds').evaluate((input) => {
    input.value = '2';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

/** Whether the element is inside the window, wholly, with nothing drawn over its middle. */
async function inView(page, selector) {
  return page.locator(selector).evaluate((el) => {
    const box = el.getBoundingClientRect();
    const inside = box.top >= 0 && box.left >= 0 && box.bottom <= window.innerHeight
      && box.right <= window.innerWidth;
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return inside && (hit === el || el.contains(hit));
  });
}

/** The page's width beyond the window, in CSS pixels (0 when nothing sticks out). */
async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

for (const [name, viewport] of SIZES) {
  test(`${name}: Compose is in view once a painting is chosen, and focus follows the piece`, async () => {
    const { page, errors } = await openPage(app.browser, app.server.url, viewport);
    await pickPainting(page);
    assert.ok(await inView(page, '[data-testid=compose]'), 'Compose is in view');
    assert.match(await page.locator('[data-testid=status]').innerText(), /press Compose music/);

    await page.locator('[data-testid=compose]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.dataset.testid === 'cancel');
    await page.locator('[data-testid=share-link]').waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'finished-title');
    for (const part of ['#finished-title', 'download-wav', 'download-ogg', 'share-link', 'track-link']) {
      const selector = part.startsWith('#') ? part : `[data-testid=finished] [data-testid=${part}]`;
      assert.ok(await inView(page, selector), `${part} is in view when the piece is done`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test(`${name}: hostile text wraps, loses its control characters and is never markup`, async () => {
    const { page, errors } = await openPage(app.browser, app.server.url, viewport);
    await pickPainting(page);
    await page.locator('input[name=variant][value=lyrical]').check();
    await page.locator('[data-testid=describe]').click();
    const input = page.locator('[data-testid=description-input]');
    await input.waitFor();
    await input.fill(HOSTILE);
    await page.locator('[data-testid=compose]').click();
    const link = page.locator('[data-testid=share-link]');
    await link.waitFor();

    const shown = await page.locator('[data-testid=stages] [data-testid=description]').innerText();
    assert.ok(shown.includes(LONG_WORD), 'the long word is shown whole');
    assert.doesNotMatch(shown, /[\u0000-\u0008\u000b-\u001f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(shown.includes('<img src=x'), 'markup is shown as text');
    assert.equal(await overflow(page), 0, 'the home page is no wider than the window');

    const url = (await link.getAttribute('href')) ?? (await link.inputValue());
    const head = await (await page.request.get(url)).text();
    const preview = head.match(/<meta property="og:description" content="([^"]*)"/)[1];
    assert.doesNotMatch(preview, /[\u0000-\u001f\u202a-\u202e]/);
    assert.ok(!preview.includes('<img'), preview);

    await page.goto(url);
    await page.locator('[data-testid=music-text]').waitFor();
    assert.equal(await overflow(page), 0, 'the piece\'s page is no wider than the window');
    for (const control of ['[data-testid=copy-link]', '[data-testid=music-text]']) {
      await page.locator(control).scrollIntoViewIfNeeded();
      assert.ok(await inView(page, control), `${control} can be reached`);
    }
    assert.equal(await page.evaluate(() => window.injected), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  });
}
