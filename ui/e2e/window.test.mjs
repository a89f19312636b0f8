// The app starts, opens its window titled "BandX Studio", and its UI talks to the Rust core.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { openApp, screenshot } from './session.mjs';

let browser;
before(async () => {
  browser = await openApp();
});
after(async () => {
  await browser?.deleteSession();
});

test('the window is titled BandX Studio', async () => {
  assert.equal(await browser.getTitle(), 'BandX Studio');
});

test('the UI is embedded and reaches the core over IPC', async () => {
  const version = await browser.$('[data-testid="version"]');
  await version.waitForExist({ timeout: 10000 });
  assert.match(await version.getText(), /^v\d+\.\d+\.\d+$/);
  const file = await screenshot(browser, '00-start');
  assert.ok(statSync(file).size > 1000, 'screenshot is not empty');
});

test('every screen is reachable from the navigation', async () => {
  for (const name of ['Bands', 'Calibrate', 'Train', 'Flash', 'Live', 'Data', 'Settings']) {
    const button = await browser.$(`//nav//button[normalize-space()="${name}"]`);
    await button.click();
    const heading = await browser.$('main h2');
    assert.equal(await heading.getText(), name);
  }
});
