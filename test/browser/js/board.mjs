// Opens the demo's status board in headless Chromium (Debian's package,
// never a downloaded browser) and reports, one JSON line each on stdout:
//   {kind:"ready"}                                the board is live (SUBSCRIBED) and card #1 is pending
//   {kind:"moved", card, column, at_ms}           a card reached the column named by an "expect" command
//   {kind:"screenshot", path}                     after the move
//   {kind:"clicked", card}                        a card's move button was clicked
//   {kind:"error", message}
// Commands on stdin, handled in order:
//   {"cmd":"expect","card":1,"status":2,"screenshot":"/path.png"}   {"cmd":"click","card":3,"d":1}
// Usage: node board.mjs <board URL> [chromium path]
import readline from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, executablePath = '/usr/bin/chromium'] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify({ ...o, t_ms: Date.now() }) + '\n');
const profile = mkdtempSync(join(tmpdir(), 'board-chromium-'));

// A fresh profile, and the flags Chromium needs on a closed network, as root.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1100, height: 620 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
page.on('pageerror', (e) => out({ kind: 'error', message: String(e) }));
page.on('console', (m) => { if (m.type() === 'error') out({ kind: 'error', message: m.text() }); });

async function finish(code) {
  await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  process.exit(code);
}

try {
  await page.goto(url);
  await page.waitForSelector('body[data-realtime="live"]', { timeout: 20000 });
  await page.waitForSelector('.column[data-status="1"] #service-1', { timeout: 5000 });
  out({ kind: 'ready' });
} catch (e) {
  out({ kind: 'error', message: String(e) });
  await finish(1);
}

// Commands run one after another, in the order they came.
let queue = Promise.resolve();
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => { queue = queue.then(() => run(JSON.parse(line))); });
rl.on('close', () => queue.then(() => finish(0)));

async function run(c) {
  try {
    if (c.cmd === 'click') {
      await page.click(`#service-${c.card} button[data-d="${c.d}"]`);
      out({ kind: 'clicked', card: c.card });
    } else if (c.cmd === 'expect') {
      // Polled in the page, so at_ms is when the DOM changed, within a frame.
      const at = await page.waitForFunction(({ card, status }) => {
        const li = document.getElementById('service-' + card);
        return li && li.closest('.column')?.dataset.status === String(status) ? Date.now() : null;
      }, { card: c.card, status: c.status }, { timeout: 10000, polling: 'raf' });
      out({ kind: 'moved', card: c.card, column: c.status, at_ms: await at.jsonValue() });
      if (c.screenshot) {
        await page.waitForTimeout(300); // mid-highlight: the picture shows what moved
        await page.screenshot({ path: c.screenshot });
        out({ kind: 'screenshot', path: c.screenshot });
      }
    }
  } catch (e) {
    out({ kind: 'error', message: String(e) });
    await finish(1);
  }
}
