// Opens a WebDriver session on the real BandX Studio binary through tauri-driver (started by scripts/e2e).
import { remote } from 'webdriverio';
import path from 'node:path';

export async function openApp() {
  const app = process.env.BANDX_APP;
  if (!app) throw new Error('BANDX_APP is not set: run the e2e tests through scripts/e2e');
  return remote({
    hostname: '127.0.0.1',
    port: Number(process.env.E2E_PORT ?? 4444),
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
}

/** Saves a PNG of the whole window next to the test output. */
export async function screenshot(browser, name) {
  const dir = process.env.E2E_SCREENSHOTS ?? 'test-output/screenshots';
  const file = path.join(dir, `${name}.png`);
  // Let the web view paint what the test just saw in the DOM.
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await browser.saveScreenshot(file);
  return file;
}
