// The home page in Chromium against the real server: the handshake completes, an upload shows
// its preview and size, a refused upload is explained in plain words, and the page fits a phone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { landscapePng, openPage, serverAndBrowser } from './harness.mjs';

const app = serverAndBrowser();

test('upload and handshake: the preview and the size are shown', async () => {
  const { page, errors } = await openPage(app.browser, app.server.url);
  const connection = page.locator('[data-testid=connection]');
  await connection.and(page.locator('[data-state=connected]')).waitFor({ timeout: 0 });

  await page.locator('input[data-testid=file-input]').setInputFiles({
    name: 'landscape.png',
    mimeType: 'image/png',
    buffer: landscapePng(64, 48),
  });
  await page.locator('[data-testid=preview]').waitFor();
  const status = page.locator('[data-testid=upload-status][data-state=uploaded]');
  await status.waitFor({ timeout: 0 });
  assert.match(await status.innerText(), /64\s*×\s*48/);
  assert.ok(await page.locator('[data-testid=compose]').isEnabled());
  assert.deepEqual(errors, []);
});

test('a file that is not an image gets a plain-words refusal', async () => {
  const { page, errors } = await openPage(app.browser, app.server.url);
  const console = [];
  page.on('console', (message) => console.push(message.text()));
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  // Declared as PNG so the browser sends it; the server sniffs the content and refuses it.
  await page.locator('input[data-testid=file-input]').setInputFiles({
    name: 'notes.png',
    mimeType: 'image/png',
    buffer: Buffer.from('these are notes, not a painting'),
  });
  const refusal = page.locator('[data-testid=error][data-code=unsupported_media_type]');
  await refusal.waitFor({ timeout: 0 });
  const words = await refusal.innerText();
  assert.ok(words.length > 10);
  await page.locator('[data-testid=upload-status][data-state=failed]').waitFor();
  // No preview of what is not an image, the refusal said once, nothing raw in the console.
  assert.equal(await page.locator('[data-testid=preview]').count(), 0);
  const firstLine = words.split('\n')[0];
  const said = await page.evaluate((line) => document.body.innerText.split(line).length - 1, firstLine);
  assert.equal(said, 1, `"${firstLine}" is said ${said} times`);
  assert.deepEqual(console.filter((line) => /ErrorBody|Some\(/.test(line)), []);
  assert.deepEqual(errors, []);
});

test('the page fits a phone screen, and a deep link opens the app', async () => {
  const { page, errors } = await openPage(app.browser, `${app.server.url}/t/AAAAAAAAAAAAAAAAAAAAAA`, {
    width: 390,
    height: 844,
  });
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout: 0 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone screen`);
  if (process.env.EKPHRASIS_SCREENSHOTS) {
    await page.screenshot({ path: `${process.env.EKPHRASIS_SCREENSHOTS}/phone.png`, fullPage: true });
  }
  assert.deepEqual(errors, []);
});
