// Drives the test page in headless Chromium against a running `callcast
// demo`: opens the session, plays the WHEP preview and samples its
// pixels, checks the sound, adds and removes an output from the page,
// and saves screenshots. Prints one JSON line of findings for the Rust
// test (tests/web_page.rs) to judge.
//
// node page.mjs <base URL> <artifacts dir> <recording location> <HLS location> <API token>
//
// The browser answers the server's Basic challenge with the token as the
// password, as a user does when the browser asks.

import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, artifacts, recordTo, hlsTo, token] = process.argv.slice(2);
const findings = {};
const started = Date.now();
const step = (name) => process.stderr.write(`page: ${((Date.now() - started) / 1000).toFixed(1)} s: ${name}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    httpCredentials: { username: 'callcast', password: token },
  });
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`console: ${m.text()}\n`));
  page.on('pageerror', (e) => { findings.page_errors = (findings.page_errors || 0) + 1; process.stderr.write(`page error: ${e}\n`); });

  step('the sessions list');
  await page.goto(base);
  const link = page.locator('#sessions tbody a').first();
  await link.waitFor({ timeout: 15000 });
  findings.sessions_listed = await page.locator('#sessions tbody tr').count();
  await page.screenshot({ path: `${artifacts}/sessions.png`, fullPage: true });

  step('the session');
  await link.click();
  await page.locator('#roster li').first().waitFor({ timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll('#roster li').length >= 2);
  findings.roster = await page.locator('#roster li').count();

  step('the preview, started from the keyboard');
  await page.locator('#preview-toggle').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => {
    const v = document.querySelector('#preview');
    return v.readyState >= 2 && v.currentTime > 1 && v.videoWidth > 0;
  }, null, { timeout: 30000 });
  // Two frames a second apart, compared in the page; the second comes
  // back as base64 RGB (a plain array of 2.7 million numbers would crawl
  // through the DevTools protocol).
  const video = await page.evaluate(async () => {
    const v = document.querySelector('#preview');
    const grab = () => {
      const c = document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(v, 0, 0);
      return { time: v.currentTime, data: ctx.getImageData(0, 0, c.width, c.height).data };
    };
    const a = grab();
    await new Promise((r) => setTimeout(r, 1000));
    const b = grab();
    let changed = 0;
    const rgb = new Uint8Array((b.data.length / 4) * 3);
    for (let i = 0, j = 0; i < b.data.length; i += 4, j += 3) {
      if (Math.abs(a.data[i] - b.data[i]) > 40 || Math.abs(a.data[i + 1] - b.data[i + 1]) > 40) changed++;
      rgb[j] = b.data[i];
      rgb[j + 1] = b.data[i + 1];
      rgb[j + 2] = b.data[i + 2];
    }
    let binary = '';
    for (let i = 0; i < rgb.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
    }
    return {
      width: v.videoWidth, height: v.videoHeight,
      advanced_s: b.time - a.time, changed_pixels: changed, rgb: btoa(binary),
    };
  });
  // The frame as raw RGB, for the Rust side to read the tiles' colours.
  writeFileSync(`${artifacts}/preview-frame.rgb`, Buffer.from(video.rgb, 'base64'));
  delete video.rgb;
  findings.video = video;
  await page.locator('#preview').screenshot({ path: `${artifacts}/preview.png` });

  step('the sound');
  findings.audio_rms = await page.evaluate(async () => {
    const v = document.querySelector('#preview');
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(v.srcObject);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let best = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatTimeDomainData(buf);
      best = Math.max(best, Math.sqrt(buf.reduce((s, x) => s + x * x, 0) / buf.length));
    }
    return best;
  });
  await page.screenshot({ path: `${artifacts}/session.png`, fullPage: true });

  // Adds an output of `kind` from the form (`fill` sets its fields),
  // waits for it to run, removes it; returns its id.
  const addAndRemove = async (kind, fill) => {
    const before = await page.$$eval('#outputs tbody tr', (rows) => rows.map((r) => r.dataset.output));
    await page.selectOption('#add-output select[name=kind]', kind);
    await fill();
    await page.click('#add-output button[type=submit]');
    const id = await (await page.waitForFunction((before) => {
      const row = [...document.querySelectorAll('#outputs tbody tr')].find((r) => !before.includes(r.dataset.output));
      return row && row.dataset.output;
    }, before, { timeout: 15000 })).jsonValue();
    await page.waitForFunction((id) => {
      const r = document.querySelector(`#outputs tr[data-output="${id}"]`);
      return r && r.textContent.includes('live') && !r.textContent.includes(' 0 kb/s');
    }, id, { timeout: 20000 });
    await page.waitForTimeout(3000);
    step(`removing ${id}`);
    await page.click(`#outputs tr[data-output="${id}"] button.danger`);
    await page.waitForFunction((id) => !document.querySelector(`#outputs tr[data-output="${id}"]`), id, { timeout: 20000 });
    return id;
  };

  step('adding a recording from the page');
  findings.added_output = await addAndRemove('record', () => page.fill('#add-output input[name=location]', recordTo));
  findings.removed_output = findings.added_output;
  step('adding HLS from the page');
  findings.added_hls = await addAndRemove('hls', () => page.fill('#add-output input[name=location]', hlsTo));
  findings.outputs_left = await page.$$eval('#outputs tbody tr', (rows) => rows.map((r) => r.dataset.output));

  step('the charts and the graph');
  findings.fps_text = await page.textContent('#fps-now');
  findings.queues_text = await page.textContent('#queues-now');
  await page.click('#graph-load');
  await page.locator('#graph svg').waitFor({ timeout: 30000 });
  findings.graph_nodes = await page.locator('#graph svg g.node').count();

  step('phone width');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  findings.phone_overflow_px = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await page.screenshot({ path: `${artifacts}/session-phone.png`, fullPage: true });

  step('stopping the preview');
  await page.click('#preview-toggle');
  await page.waitForFunction(() => document.querySelector('#preview-toggle').textContent === 'Start preview');

  step('starting a second session in the same room from the form, then stopping it');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/#/`);
  await page.locator('#sessions tbody tr').first().waitFor();
  const room = await page.evaluate(async () => (await (await fetch('/v1/sessions')).json()).sessions[0].room);
  await page.fill('#new-session input[name=room]', room.room);
  // The form suggests the running session's server.
  findings.suggested_url = await page.inputValue('#new-session input[name=url]');
  await page.click('#new-session button[type=submit]');
  await page.waitForFunction(() => /^#\/s\//.test(location.hash));
  findings.second_session = await page.textContent('#session-id');
  await page.waitForFunction(() => document.querySelectorAll('#roster li').length >= 3, null, { timeout: 20000 });
  await page.click('#stop-session');
  await page.waitForFunction(() => location.hash === '#/');
  await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1, null, { timeout: 20000 });
  findings.sessions_after = await page.locator('#sessions tbody tr').count();
  findings.ok = true;
} finally {
  await browser.close();
  process.stdout.write(`${JSON.stringify(findings)}\n`);
}
