#!/usr/bin/env node
// The clinician, for the end-to-end test: headless Chromium (Debian's, driven by playwright-core) opens the
// SMART launch URL, waits for the LHC-Forms questionnaire, and for each step of --steps fills in the
// answers, reviews, confirms and saves. A step is {"answers": {"<linkId>": "<text>"}, "expect": "saved" |
// "refused"}. Prints one JSON line: the page's state, messages, written resources and cards per step, and
// the time from opening the launch URL to the last saved page.
//
//   node fill.mjs --url <launch url> --steps '[{"answers": {"kps": "80"}, "expect": "saved"}]'
//                 [--chromium /usr/bin/chromium] [--timeout 30000]

import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    steps: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '30000' },
  },
});
const timeout = Number.parseInt(values.timeout, 10);
const steps = JSON.parse(values.steps ?? '[]');

const browser = await chromium.launch({
  executablePath: values.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run'], // playwright gives the browser a fresh temporary profile of its own
});
const result = { steps: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  const started = Date.now();
  await page.goto(values.url);
  await page.waitForSelector('body[data-state="form"], body[data-state="error"]');
  result.loadedMs = Date.now() - started;
  result.state = await page.$eval('body', (b) => b.dataset.state);
  result.loadErrors = await page.$$eval('#errors li', (els) => els.map((e) => e.textContent));
  result.consoleErrors = consoleErrors;
  result.cardsBefore = await page.$$eval('#cards-before li', (els) => els.map((e) => e.dataset.rule));
  result.questions = await page.$$eval('#form input', (els) => els.map((e) => e.id));
  if (process.env.SMART_E2E_DUMP) result.formHtml = await page.$eval('#form', (e) => e.innerHTML);
  for (const step of steps) {
    for (const [linkId, text] of Object.entries(step.answers)) {
      const input = page.locator(`[id="${linkId}/1"]`);
      await input.fill('');
      await input.fill(String(text));
      await input.press('Tab');
    }
    await page.click('#review');
    await page.waitForSelector('body[data-state="confirm"]');
    const toWrite = await page.$$eval('#to-write li', (els) => els.map((e) => e.textContent));
    await page.click('#save');
    await page.waitForSelector(`body[data-state="${step.expect}"]`);
    result.steps.push({
      expect: step.expect,
      toWrite,
      errors: await page.$$eval('#errors li', (els) => els.map((e) => e.textContent)),
      written: await page.$$eval('#written a', (els) => els.map((e) => e.getAttribute('href'))),
      cardsAfter: await page.$$eval('#cards-after li', (els) => els.map((e) => e.dataset.rule)),
    });
  }
  result.totalMs = Date.now() - started;
  result.consoleErrors = consoleErrors;
} catch (err) {
  result.error = String(err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
