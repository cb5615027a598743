// Drives genq's web page in Debian's chromium through playwright-core (no browser download):
//   node page_test.mjs app BASE TOKEN IMAGE... --shot FILE --downloads DIR
//   node page_test.mjs wrapper BASE IMAGE
// Run by tests/integration/test_web_page.py, which starts genqd and the stand-in and checks the
// JSON this prints on its last line. Any failed step throws: exit status 1 and the reason.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LONG = 90_000;  // generous bound for one step; the steps wait for conditions, never sleep

function option(args, name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'genq-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.GENQ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  return { context, page, errors, profile };
}

// Finite duration > 0, and playback moves: the browser decoded the result it was given.
async function videoPlays(page, selector) {
  await page.waitForFunction((sel) => {
    const v = document.querySelector(sel);
    return v && v.readyState >= 1 && Number.isFinite(v.duration) && v.duration > 0;
  }, selector, { timeout: LONG });
  await page.$eval(selector, (v) => { v.muted = true; return v.play(); });
  await page.waitForFunction((sel) => document.querySelector(sel).currentTime > 0.2, selector,
    { timeout: LONG });
  return page.$eval(selector, (v) => ({ duration: v.duration, width: v.videoWidth,
                                        height: v.videoHeight }));
}

// Every state a card shows, in order, recorded in the page: the queue only changes through SSE
// (the page reads the list once per connection), so a job seen going queued -> ... -> succeeded
// without a reload moved live.
async function recordStates(page) {
  await page.evaluate(() => {
    window.__seen = {};
    const note = () => {
      for (const c of document.querySelectorAll('.job')) {
        const s = (window.__seen[c.dataset.id] ||= []);
        if (s[s.length - 1] !== c.dataset.state) s.push(c.dataset.state);
      }
    };
    new MutationObserver(note).observe(document.querySelector('#queue'),
      { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    note();
  });
}

// Drops a file on the drop zone as a file manager would (a DragEvent carrying a DataTransfer).
async function dropFile(page, file) {
  const data = fs.readFileSync(file).toString('base64');
  await page.evaluate(([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: 'image/png' }));
    const zone = document.querySelector('#drop');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [path.basename(file), data]);
  await page.waitForFunction(() => document.querySelectorAll('#picked figure').length === 1);
}

async function cardState(page, id, state) {
  await page.waitForSelector(`.job[data-id="${id}"][data-state="${state}"]`, { timeout: LONG });
}

async function runApp(args) {
  const shot = option(args, '--shot');
  const downloads = option(args, '--downloads');
  const [base, token, ...images] = args;
  const { context, page, errors, profile } = await launch();
  const out = {};
  try {
    // Opened with ?token=; the page keeps it for its API calls (header, and ?token= on SSE).
    await page.goto(base + '/?token=' + encodeURIComponent(token));
    out.token_kept = await page.evaluate(() => localStorage.getItem('genq.token'));
    await page.waitForSelector('#conn.live', { timeout: LONG });
    await recordStates(page);

    await page.selectOption('#kind', 'video');
    await page.fill('#params input[name="motion_bucket_id"]', '90');
    await page.setInputFiles('#files', images);
    await page.waitForFunction((n) => document.querySelectorAll('#picked figure').length === n,
      images.length);
    await page.click('#submit');
    await page.waitForFunction((n) => document.querySelectorAll('.job').length >= n,
      images.length, { timeout: LONG });
    const ids = await page.$$eval('.job', (cs) => cs.map((c) => c.dataset.id));
    out.jobs = ids;
    out.durations = [];
    for (const id of ids) {
      await cardState(page, id, 'succeeded');
      out.durations.push(await videoPlays(page, `.job[data-id="${id}"] video`));
    }
    out.states = await page.evaluate(() => window.__seen);

    // Download the first result through its link.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: LONG }),
      page.click(`.job[data-id="${ids[0]}"] a.download`),
    ]);
    out.download_name = download.suggestedFilename();
    out.download_file = path.join(downloads, out.download_name);
    await download.saveAs(out.download_file);

    // A reload shows the same queue, read back from genqd, and plays the results again.
    await page.reload();
    await page.waitForSelector('#conn.live', { timeout: LONG });
    for (const id of ids) {
      await cardState(page, id, 'succeeded');
      await videoPlays(page, `.job[data-id="${id}"] video`);
    }
    out.after_reload = await page.$$eval('.job', (cs) => cs.map((c) => c.dataset.id));
    await recordStates(page);

    // Cancel and retry: with the queue paused a new job stays queued long enough to cancel.
    await page.click('#pause');
    await page.waitForSelector('#pause:text("Resume queue")', { timeout: LONG });
    await dropFile(page, images[0]);
    await page.click('#submit');
    await page.waitForFunction((n) => document.querySelectorAll('.job').length > n, ids.length,
      { timeout: LONG });
    const late = await page.$$eval('.job', (cs, known) =>
      cs.map((c) => c.dataset.id).find((id) => !known.includes(id)), ids);
    out.late_job = late;
    await cardState(page, late, 'queued');
    if (shot) {
      // The picture for the README: results playing, and a job waiting in the paused queue.
      await page.waitForFunction(() => /queued 1/.test(document.querySelector('#summary').textContent),
        null, { timeout: LONG });
      await page.mouse.move(5, 5);
      await page.screenshot({ path: shot, fullPage: true });
      out.screenshot = shot;
    }
    await page.click(`.job[data-id="${late}"] button.cancel`);
    await cardState(page, late, 'canceled');
    await page.click(`.job[data-id="${late}"] button.retry`);
    await cardState(page, late, 'queued');
    await page.click('#pause');
    await cardState(page, late, 'succeeded');
    out.late_states = (await page.evaluate(() => window.__seen))[late];
    await videoPlays(page, `.job[data-id="${late}"] video`);

    // Another kind with its own parameters: an upscale, whose result is an image shown in place.
    const known = await page.$$eval('.job', (cs) => cs.map((c) => c.dataset.id));
    await page.selectOption('#kind', 'upscale');
    await page.fill('#params input[name="prompt"]', 'the same hills, sharper');
    await page.selectOption('#params select[name="output_format"]', 'png');
    await page.setInputFiles('#files', images.slice(0, 1));
    await page.click('#submit');
    await page.waitForFunction((n) => document.querySelectorAll('.job').length > n, known.length,
      { timeout: LONG });
    const up = await page.$$eval('.job', (cs, ids) =>
      cs.map((c) => c.dataset.id).find((id) => !ids.includes(id)), known);
    out.upscale_job = up;
    await cardState(page, up, 'succeeded');
    await page.waitForFunction((sel) => {
      const img = document.querySelector(sel);
      return img && img.complete && img.naturalWidth > 0;
    }, `.job[data-id="${up}"] .media img[alt="result"]`, { timeout: LONG });
    out.upscale_image = await page.$eval(`.job[data-id="${up}"] .media img[alt="result"]`,
      (img) => [img.naturalWidth, img.naturalHeight]);

    out.errors = errors;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

// The wrapper document's own browser example, embedded in the page, run as a user would.
async function runWrapper(args) {
  const [base, image] = args;
  const { context, page, errors, profile } = await launch();
  try {
    await page.goto(base + '/');
    await page.waitForSelector('#conn.live', { timeout: LONG });  // no token here, none asked
    await page.click('details summary');
    await page.setInputFiles('#imageInput', image);
    await page.click('button[onclick="generateVideo()"]');
    const info = await videoPlays(page, '#status video');
    const text = await page.textContent('#status');
    // The app beside it saw the wrapper's job go by over SSE, and plays it as well.
    await page.waitForSelector('.job[data-state="succeeded"] video', { timeout: LONG });
    const card = await videoPlays(page, '.job[data-state="succeeded"] video');
    const tokenAsked = await page.$eval('#token-panel', (p) => p.classList.contains('show'));
    return { video: info, status_text: text, card_video: card, token_asked: tokenAsked, errors };
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const [mode, ...rest] = process.argv.slice(2);
try {
  const result = mode === 'wrapper' ? await runWrapper(rest) : await runApp(rest);
  console.log(JSON.stringify(result));
} catch (e) {
  console.error('page test failed: ' + (e && e.stack || e));
  process.exit(1);
}
