// The whole journey on the virtual band, through the real window: connect the virtual band, create a
// profile with two activities, record each while the virtual wearer does it (set through the UI's
// picker), train, flash the model over (simulated) Bluetooth, and see the live view name what the
// wearer is doing; export and import the profile through the file dialogs (a stand-in answers for the system's
// dialog: scripts/e2e sets BANDX_DIALOG_STANDIN); the Settings screen: the logs, the theme, the serial ports, and
// moving the data folder. A screenshot of every screen goes to test-output/screenshots/.
// scripts/e2e runs the virtual band faster than real time (BANDX_SIM_SPEED) to keep this short.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openApp, screenshot } from './session.mjs';

const CLASSES = ['walking', 'typing'];
/** A bar of nonzero width in the first class's color (bandx-desktop's plots::palette) in a timeline plot. */
const WALKING_BAR = /<rect [^>]*width="[1-9][^"]*"[^>]*fill="#0072B2"/;
/** Where the tests put files (firmware images, exports): outside the app's data folder. */
const FILES = process.env.E2E_FILES ?? os.tmpdir();
/** The app's data folder: the default one in the run's own XDG_DATA_HOME. */
const DATA = path.join(process.env.XDG_DATA_HOME ?? os.tmpdir(), 'bandx-studio');
let browser;

/** The next system dialog answers with `answer` (the stand-in for the OS dialog; '' is "cancelled"). */
function answerDialog(answer) {
  writeFileSync(process.env.BANDX_DIALOG_STANDIN, answer);
}

/** The dialogs asked so far: `[kind, starting folder]`. */
function dialogsAsked() {
  const file = `${process.env.BANDX_DIALOG_STANDIN}.asked`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('\t'));
}

before(async () => {
  browser = await openApp();
  await (await browser.$('[data-testid="version"]')).waitForExist({ timeout: 15000 });
});
after(async () => {
  await browser?.deleteSession();
});

const $ = (sel) => browser.$(sel);
const byText = (tag, text) => browser.$(`//${tag}[normalize-space()="${text}"]`);

async function nav(name) {
  await (await browser.$(`//nav//button[normalize-space()="${name}"]`)).click();
  const heading = await $('main h2');
  await browser.waitUntil(async () => (await heading.getText()) === name, { timeout: 5000 });
}

/** Sets a <select> the way a user's pick does (value + change event). */
async function pick(testid, value) {
  const el = await $(`[data-testid="${testid}"]`);
  await el.waitForExist({ timeout: 10000 });
  await browser.waitUntil(async () => (await el.$$('option')).length > 0, { timeout: 10000 });
  await browser.execute(
    (e, v) => {
      e.value = v;
      e.dispatchEvent(new Event('change', { bubbles: true }));
    },
    el,
    value,
  );
  await browser.waitUntil(async () => (await el.getValue()) === value, { timeout: 5000 });
}

async function type(testid, text) {
  const input = await $(`[data-testid="${testid}"]`);
  await input.setValue(text);
}

/** Surfaces an error the UI shows instead of waiting for a timeout. */
async function noError() {
  const alerts = await browser.$$('[role="alert"][data-code]');
  for (const a of alerts) assert.fail(`the app shows an error: ${await a.getText()}`);
}

test('scan; without a Bluetooth adapter the app offers the virtual band; connect it', async () => {
  await nav('Bands');
  await (await byText('button', 'Scan for bands')).click();
  // This machine may or may not have Bluetooth: either the scan ends (a table or "No band found"),
  // or it says there is no adapter (or it is off) and offers the virtual band in the message.
  const offer = await browser.$('//div[@role="alert"]//button[normalize-space()="Use the virtual band"]');
  await browser.waitUntil(
    async () =>
      (await offer.isExisting()) ||
      (await browser.$('table[aria-label="Bands found"]').isExisting()) ||
      (await browser.$('//p[starts-with(normalize-space(), "No band found")]').isExisting()),
    { timeout: 20000, timeoutMsg: 'the scan neither ended nor said why it could not run' },
  );
  if (await offer.isExisting()) {
    assert.match(await (await $('[role="alert"]')).getText(), /(No Bluetooth adapter found|Bluetooth is turned off)/);
    await screenshot(browser, '01-bands-no-adapter');
    await offer.click();
  } else {
    await (await byText('button', 'Use the virtual band')).click();
  }
  // A fresh desktop is not paired: the band refuses it and the Pair step appears. The virtual band shows its
  // code in the panel (a real band on its screen); typing it pairs, then the app connects.
  const pairCard = await $('[data-testid="pair-card"]');
  await pairCard.waitForExist({ timeout: 15000 });
  assert.match(await (await $('[role="alert"]')).getText(), /only answers the desktop it is paired with/);
  await (await pairCard.$('button=Pair')).click();
  const bandScreen = await $('[data-testid="virtual-band-screen"]');
  await bandScreen.waitForExist({ timeout: 15000 });
  const shown = (await bandScreen.getText()).match(/\d{6}/)[0];
  await (await $('input[aria-label="Pairing code"]')).setValue(shown);
  await screenshot(browser, '01-bands-pair');
  await (await byText('button', 'Confirm code')).click();
  const card = await $('[data-testid="band-card"]');
  await card.waitForExist({ timeout: 15000 });
  assert.match(await (await $('[data-testid="band-firmware"]')).getText(), /^sim-/);
  await pick('wearer-style', 'different');
  await screenshot(browser, '01-bands');
});

test('create a profile with two activities', async () => {
  await nav('Calibrate');
  await type('new-profile', 'Journey');
  await (await byText('button', 'Create profile')).click();
  await (await $('[data-testid="status-profile"]')).waitForExist({ timeout: 5000 });
  for (const name of CLASSES) {
    await type('new-class', name);
    await (await byText('button', 'Add activity')).click();
    await (await $(`[data-testid="class-${name}"]`)).waitForExist({ timeout: 5000 });
  }
  await noError();
});

for (const name of CLASSES) {
  test(`calibrate ${name} while the wearer does it`, async (t) => {
    await pick('wearer-activity', name);
    await (await byText('button', `Record ${name}`)).click();
    const recorder = await $('[data-testid="recorder"]');
    await recorder.waitForExist({ timeout: 5000 });
    // Reported, not asserted (no timed assertions): how often the live chart redraws here.
    const chart = await $('[data-testid="imu-chart"]');
    const counters = async () => ({
      frames: Number(await chart.getAttribute('data-frames')),
      draws: Number(await chart.getAttribute('data-draws')),
      repaints: Number(await chart.getAttribute('data-repaints')),
    });
    const c0 = await counters();
    const t0 = Date.now();
    await browser.pause(2000);
    const c1 = await counters();
    const per = (n) => ((n * 1000) / (Date.now() - t0)).toFixed(0);
    t.diagnostic(
      `live chart: ${per(c1.frames - c0.frames)} redraws/s (animation frames, each only moving the traces), ` +
        `${per(c1.draws - c0.draws)} segment draws/s, ${c1.repaints - c0.repaints} whole repaints, ` +
        `${await chart.getAttribute('data-draw-ms')} ms of script per frame`,
    );
    await browser.waitUntil(
      async () => {
        await noError();
        return (await recorder.getAttribute('data-phase')) === 'done';
      },
      { timeout: 90000, interval: 250, timeoutMsg: `recording ${name} did not finish` },
    );
    assert.equal(await (await $('[data-testid="window-counter"]')).getText(), '15/15 good windows');

    assert.ok(Number(await chart.getAttribute('data-samples')) > 0, 'the live chart received samples');
    assert.ok(Number(await chart.getAttribute('data-frames')) > 10, 'the live chart redraws');
    if (name === CLASSES[0]) {
      await recorder.scrollIntoView();
      await screenshot(browser, '02-calibrate');
    }
  });
}

test('train', async () => {
  await nav('Train');
  await (await $('[data-testid="train"]')).click();
  const result = await $('[data-testid="train-result"]');
  await browser.waitUntil(
    async () => {
      await noError();
      return result.isExisting();
    },
    { timeout: 150000, interval: 500, timeoutMsg: 'training did not finish' },
  );
  const personal = await (await $('[data-testid="personal-accuracy"]')).getText();
  assert.match(personal, /^\d+ %$/);
  assert.ok(Number.parseInt(personal, 10) >= 80, `personal accuracy ${personal}`);
  // walking and typing are WISDM activities, so other people's recordings of them are mixed in.
  assert.match(await (await $('[data-testid="train-method"]')).getText(), /other people's recordings/);
  await (await $('[data-testid="confusion"]')).waitForExist();
  await screenshot(browser, '03-train');
});

test('flash the model over Bluetooth (model only)', async () => {
  await nav('Flash');
  const what = await $('[data-testid="flash-what"]');
  await browser.waitUntil(async () => /walking, typing/.test(await what.getText()), { timeout: 5000 });
  await (await $('[data-testid="flash"]')).click();
  const result = await $('[data-testid="flash-result"]');
  await browser.waitUntil(
    async () => {
      await noError();
      return result.isExisting();
    },
    { timeout: 120000, interval: 250, timeoutMsg: 'flashing did not finish' },
  );
  assert.match(await result.getText(), /Verified: the band runs model v1 \(walking, typing\)/);
  await screenshot(browser, '04-flash');
});

test('flash a full firmware image over Bluetooth: the band restarts into it and keeps its model', async () => {
  // A small well-formed ESP32 app image (header, one segment, checksum, appended SHA-256): the desktop and the
  // virtual band check it as the bootloader would; the band stores it in its other app slot and restarts from
  // there (it does not execute images).
  const image = esp32AppImage();
  const file = path.join(FILES, `firmware-${Date.now()}.bin`);
  writeFileSync(file, image);
  await (await $('input[name="transport"][value="ble_firmware"]')).click();
  // Picked in the file dialog (the stand-in answers for it); the typed field shows the pick.
  answerDialog(file);
  await (await $('[data-testid="choose-firmware"]')).click();
  const input = await browser.$('//label[contains(., "Firmware image file (full path)")]//input');
  await browser.waitUntil(async () => (await input.getValue()) === file, {
    timeout: 5000,
    timeoutMsg: 'the file dialog did not fill the firmware field',
  });
  assert.equal(dialogsAsked().at(-1)[0], 'firmware_file');
  await (await $('[data-testid="flash"]')).click();
  const result = await $('[data-testid="flash-result"]');
  await browser.waitUntil(
    async () => {
      await noError();
      return (await result.isExisting()) && /5\.9 KB/.test(await result.getText());
    },
    { timeout: 120000, interval: 250, timeoutMsg: 'the firmware upload did not finish' },
  );
  // After the restart the band answers again and still runs the personal model.
  assert.match(await result.getText(), /Verified: the band runs model v1 \(walking, typing\)/);
  await (await $('input[name="transport"][value="ble_model"]')).click();
});

test('the live view names what the wearer is doing', async () => {
  await nav('Live');
  await (await $('[data-testid="live-start"]')).click();
  const activity = await $('[data-testid="live-activity"]');
  for (const name of [...CLASSES].reverse()) {
    await pick('wearer-activity', name);
    // The band's next windows are of the new activity; it must name it steadily (3 times in a row).
    let streak = 0;
    await browser.waitUntil(
      async () => {
        await noError();
        const text = (await activity.isExisting()) ? await activity.getText() : '';
        streak = text.toLowerCase() === name ? streak + 1 : 0;
        return streak >= 3;
      },
      { timeout: 60000, interval: 400, timeoutMsg: `the live view did not settle on ${name}` },
    );
  }
  // Stopping stores the last predictions; the history then shows today's minutes per activity.
  await (await byText('button', 'Stop')).click();
  const today = await $('[data-testid="today"]');
  await browser.waitUntil(async () => (await today.isExisting()) && /walking/.test(await today.getText()), {
    timeout: 15000,
    timeoutMsg: "today's totals did not show walking",
  });
  await (await $('[data-testid="timeline"]')).waitForExist({ timeout: 5000 });
  // The band's own log: every minute it classified since it booted (with or without the desktop), synced once.
  await (await $('[data-testid="sync"]')).click();
  const synced = await $('[data-testid="sync-result"]');
  await browser.waitUntil(
    async () => {
      await noError();
      return synced.isExisting();
    },
    { timeout: 60000, interval: 250, timeoutMsg: "the band's log did not sync" },
  );
  assert.match(await synced.getText(), /Synced \d+ new minutes? from the band's log/);
  // Today's timeline, merged from the live view and the band's log, draws what the wearer did: a bar in
  // walking's color (the model's first class).
  const day = await $('[data-testid="day-timeline"]');
  await day.waitForExist({ timeout: 5000 });
  assert.match(decodeURIComponent(await day.getAttribute('src')), WALKING_BAR);
  await screenshot(browser, '05-live');
});

test('the data screen lists the recordings, the model and the deployment', async () => {
  await nav('Data');
  const models = await $('table[aria-label="Models"]');
  await models.waitForExist({ timeout: 5000 });
  const recordings = await browser.$$('table[aria-label="Recordings"] tbody tr');
  assert.ok(recordings.length >= 2, `${recordings.length} recordings`);
  const deployments = await $('table[aria-label="Deployments"]');
  assert.match(await deployments.getText(), /verified/);
  // The merged history: today's minutes per activity, and today's timeline with where each minute came from.
  const history = await $('table[aria-label="Activity history"]');
  await history.waitForExist({ timeout: 5000 });
  assert.match(await history.getText(), /walking/);
  const plot = await $('[data-testid="history-timeline"]');
  assert.match(decodeURIComponent(await plot.getAttribute('src')), WALKING_BAR);
  assert.match(await (await $('[data-testid="history-day-rows"]')).getText(), /walking/);
  await screenshot(browser, '06-data');
});

let exported;
test('export the profile to a folder as plain files, through the save dialog', async () => {
  exported = path.join(FILES, `export-${Date.now()}`);
  answerDialog(exported);
  await (await $('[data-testid="choose-export"]')).click();
  const notice = await $('[data-testid="data-notice"]');
  await notice.waitForExist({ timeout: 10000 });
  assert.match(await notice.getText(), /^Exported Journey to /);
  assert.ok(readdirSync(exported).length > 0, `${exported} holds the export`);
  // The dialog started where the last one ended: the firmware file's folder.
  assert.deepEqual(dialogsAsked().at(-1), ['export_folder', FILES]);
});

test('every control on every screen has a label, and the screens are reachable from the keyboard', async () => {
  for (const name of ['Bands', 'Calibrate', 'Train', 'Flash', 'Live', 'Data', 'Settings']) {
    await nav(name);
    const { controls, unlabelled } = await browser.execute(() => {
      const text = (el) => (el?.textContent ?? '').trim() !== '';
      const named = (el) =>
        (el.getAttribute('aria-label') ?? '').trim() !== '' ||
        (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id) => text(document.getElementById(id))) ||
        Array.from(el.labels ?? []).some(text) ||
        (el.tagName === 'BUTTON' && text(el));
      const all = Array.from(document.querySelectorAll('main button, main input, main select, main textarea, nav button'));
      return {
        controls: all.length,
        unlabelled: all.filter((el) => el.type !== 'hidden' && !named(el)).map((el) => el.outerHTML.slice(0, 160)),
      };
    });
    assert.ok(controls > 6, `${name}: only ${controls} controls found`);
    assert.deepEqual(unlabelled, [], `${name}: controls without a label`);
  }
  // Tab from one screen's button to the next, Enter opens it, and the focus is drawn.
  await browser.execute(() => document.evaluate('//nav//button[normalize-space()="Train"]', document, null, 9, null).singleNodeValue.focus());
  await browser.keys(['Tab']);
  const focused = await browser.execute(() => {
    const el = document.activeElement;
    return { text: el?.textContent?.trim(), outline: el ? getComputedStyle(el).outlineStyle : 'none' };
  });
  assert.equal(focused.text, 'Flash');
  assert.notEqual(focused.outline, 'none', 'the keyboard focus is visible');
  await browser.keys(['Enter']);
  const heading = await $('main h2');
  await browser.waitUntil(async () => (await heading.getText()) === 'Flash', {
    timeout: 5000,
    timeoutMsg: 'Enter on the focused "Flash" button did not open the Flash screen',
  });
});

test('the dark theme', async () => {
  await (await browser.$('//nav//button[normalize-space()="Dark theme"]')).click();
  await nav('Train');
  await (await $('[data-testid="train-result"]')).waitForExist({ timeout: 10000 });
  assert.equal(await browser.execute(() => document.documentElement.dataset.theme), 'dark');
  await screenshot(browser, '07-train-dark');
});

test('restore the profile from its export: delete it, then import the folder through the folder dialog', async () => {
  await nav('Data');
  answerDialog('');
  await (await $('[data-testid="choose-import"]')).click();
  // Cancelled: nothing happens.
  await browser.waitUntil(async () => dialogsAsked().at(-1)[0] === 'import_folder', { timeout: 5000 });
  assert.equal(await $('[data-testid="data-notice"]').isExisting(), false);
  await (await byText('button', 'Delete profile Journey')).click();
  await (await browser.$('//*[@role="group"]//button[normalize-space()="Delete"]')).click();
  const notice = await $('[data-testid="data-notice"]');
  await browser.waitUntil(async () => (await notice.isExisting()) && /^Deleted Journey/.test(await notice.getText()), {
    timeout: 10000,
    timeoutMsg: 'the profile was not deleted',
  });
  answerDialog(exported);
  await (await $('[data-testid="choose-import"]')).click();
  await browser.waitUntil(
    async () => {
      await noError();
      return (await notice.isExisting()) && /^Imported Journey/.test(await notice.getText());
    },
    { timeout: 10000, timeoutMsg: 'the import did not finish' },
  );
  await (await $('table[aria-label="Models"]')).waitForExist({ timeout: 5000 });
  const recordings = await browser.$$('table[aria-label="Recordings"] tbody tr');
  assert.ok(recordings.length >= 2, `the imported profile has ${recordings.length} recordings`);
});

test('settings: the logs folder opens and holds the log, the theme is kept, the serial ports are listed', async () => {
  await nav('Settings');
  const logs = await $('[data-testid="logs-folder"]');
  await browser.waitUntil(async () => (await logs.getText()) !== '', { timeout: 5000 });
  const folder = await logs.getText();
  assert.equal(folder, path.join(DATA, 'logs'));
  await (await byText('button', 'Open logs folder')).click();
  await browser.waitUntil(async () => existsSync(process.env.E2E_OPENED) && readFileSync(process.env.E2E_OPENED, 'utf8').includes(folder), {
    timeout: 5000,
    timeoutMsg: 'the file manager (stand-in) was not asked to open the logs folder',
  });
  const log = readFileSync(path.join(folder, 'bandx-studio.log'), 'utf8');
  assert.match(log, / INFO .*started/);
  assert.match(log, /file dialog kind="export_folder"/);
  await pick('theme', 'light');
  await browser.waitUntil(async () => (await browser.execute(() => document.documentElement.dataset.theme)) === 'light', {
    timeout: 5000,
  });
  const settingsFile = path.join(process.env.XDG_CONFIG_HOME, 'bandx-studio', 'settings.toml');
  await browser.waitUntil(() => existsSync(settingsFile) && /theme = "light"/.test(readFileSync(settingsFile, 'utf8')), {
    timeout: 5000,
    timeoutMsg: 'the theme was not saved in the settings file',
  });
  const ports = await browser.$$('[data-testid="serial-port"] option');
  assert.ok(ports.length >= 1, 'the port list has at least "find automatically"');
  await screenshot(browser, '08-settings');
});

test('move the data folder: copied, checked, then used; the old folder is kept', async () => {
  await nav('Bands');
  const disconnect = await byText('button', 'Disconnect');
  if (await disconnect.isExisting()) await disconnect.click();
  const status = await $('[data-testid="status-band"]');
  await browser.waitUntil(async () => /No band connected/.test(await status.getText()), {
    timeout: 10000,
    timeoutMsg: 'the band did not disconnect',
  });
  await nav('Settings');
  const dest = path.join(FILES, 'moved-data');
  answerDialog(dest);
  await (await $('[data-testid="choose-data-dir"]')).click();
  const notice = await $('[data-testid="settings-notice"]');
  await browser.waitUntil(
    async () => {
      await noError();
      return (await notice.isExisting()) && /is used from there now/.test(await notice.getText());
    },
    { timeout: 30000, timeoutMsg: 'the data folder did not move' },
  );
  assert.equal(await (await $('[data-testid="data-dir"]')).getText(), dest);
  assert.ok(existsSync(path.join(dest, 'bandx.sqlite')), 'the store was copied');
  assert.ok(existsSync(path.join(DATA, 'bandx.sqlite')), 'the old folder is kept');
  await screenshot(browser, '09-settings-moved');
  // The app works from the new folder: the Data screen lists what was recorded.
  await nav('Data');
  await (await $('table[aria-label="Recordings"]')).waitForExist({ timeout: 5000 });
});

/** A valid ESP32 app image of 6,032 bytes: 24-byte header (chip id 0, hash appended), one segment of 5,952
 *  pseudo-random bytes, zero padding up to the checksum byte (0xEF xor every data byte), then its SHA-256. */
function esp32AppImage() {
  const seg = Buffer.alloc(5952);
  for (let i = 0; i < seg.length; i++) seg[i] = (i * 31) % 251;
  // The ESP-IDF app description at the start of the first segment: magic, secure_version, 2 reserved words, then the
  // version the band's no-downgrade rule compares (newer than the virtual band's own 0.1.0).
  seg.fill(0, 0, 48);
  seg.writeUInt32LE(0xabcd5432, 0);
  seg.write('0.2.0', 16, 'ascii');
  const header = Buffer.alloc(24);
  header[0] = 0xe9;
  header[1] = 1;
  header[2] = 2;
  header[3] = 0x20;
  header.writeUInt32LE(0x400d0018, 4);
  header[8] = 0xee;
  header[23] = 1;
  const segmentHeader = Buffer.alloc(8);
  segmentHeader.writeUInt32LE(0x3f400020, 0);
  segmentHeader.writeUInt32LE(seg.length, 4);
  let checksum = 0xef;
  for (const b of seg) checksum ^= b;
  let body = Buffer.concat([header, segmentHeader, seg]);
  body = Buffer.concat([body, Buffer.alloc(15 - (body.length % 16)), Buffer.from([checksum])]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}
