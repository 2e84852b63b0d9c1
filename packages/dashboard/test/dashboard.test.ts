import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_DIR } from '../../server/src/api/routes/dashboard.js';
import { startBerth, type TestBerth } from '../../server/test/harness.js';

/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real
 * daemon on the real engine: sign in, create, live status, terminal, logs, files, delete.
 * BERTH_UPDATE_SCREENSHOTS=1 writes the screenshots into docs/screenshots (else a temporary dir).
 */
const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !inCi) {
  console.warn(
    `dashboard tests skipped: no Chromium at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium)`,
  );
}

const SHOTS_DIR =
  process.env.BERTH_UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '../../../docs/screenshots')
    : mkdtempSync(join(tmpdir(), 'berth-shots-'));

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Root in CI needs --no-sandbox; the rest keeps Chromium off the (closed) network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage });
}

/** The terminal's visible text (xterm's DOM renderer keeps one element per row). */
async function terminalText(page: Page): Promise<string> {
  return page.locator('.xterm-rows').innerText();
}

async function typeInTerminal(page: Page, line: string): Promise<void> {
  await page.locator('.xterm').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

describe.skipIf(!haveChromium && !inCi)('dashboard in a browser', () => {
  it('signs in, creates, follows status live, uses terminal, logs and files, stops, starts and deletes', async () => {
    if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) {
      throw new Error(`the dashboard is not built at ${DASHBOARD_DIR}: run npm run build`);
    }
    let berth: TestBerth | undefined;
    let browser: Browser | undefined;
    try {
      berth = await startBerth();
      browser = await launch();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && /Content.Security.Policy|Refused to/i.test(msg.text())) {
          problems.push(`CSP: ${msg.text()}`);
        }
      });
      const name = `dash-${berth.runId.slice(2, 10)}`;

      // The dashboard is served at / with a strict CSP; any other app path falls back to it.
      const home = await page.goto(berth.url);
      expect(home?.status()).toBe(200);
      expect(home?.headers()['content-security-policy']).toContain("script-src 'self'");
      const deep = await fetch(`${berth.url}/workspaces/anything`);
      expect(deep.headers.get('content-type')).toContain('text/html');
      expect((await fetch(`${berth.url}/v1/workspaces`)).status).toBe(401);
      expect((await fetch(`${berth.url}/assets/missing.js`)).status).toBe(404);
      expect(((await (await fetch(`${berth.url}/healthz`)).json()) as { status: string }).status).toBe('ok');

      // Sign in: a wrong token is refused with the API's message; the right one is kept in
      // sessionStorage only, never in the URL.
      await page.getByLabel('API token').fill('wrong-token-0000000000');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('unauthenticated');
      await shot(page, 'sign-in');
      await page.getByLabel('API token').fill(berth.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
      expect(page.url()).not.toContain(berth.token);
      expect(await page.evaluate(() => sessionStorage.getItem('berth.token'))).toBe(berth.token);
      // Nothing reloads the page from here on: this marker would be gone.
      await page.evaluate(() => {
        (globalThis as { berthNoReload?: boolean }).berthNoReload = true;
      });

      // Create from the form; the API's validation message is shown as the API wrote it.
      await page.getByRole('link', { name: 'New workspace' }).first().click();
      await page.getByLabel('Name').fill('Not A Valid Name');
      await page.getByRole('button', { name: 'Create workspace' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('validation_failed');
      await page.getByLabel('Name').fill(name);
      await page.getByLabel('Labels').fill('purpose=dashboard-test');
      await shot(page, 'create', true);
      await page.getByRole('button', { name: 'Create workspace' }).click();

      // The workspace page follows its status live until it runs.
      await page.locator('.ws-header [data-status="running"]').waitFor({ timeout: 90_000 });
      // A preview link through Berth's proxy for the runtime's port (a preview token, not the API token).
      await page.getByRole('button', { name: 'Preview link for agent' }).click();
      const preview = page.getByRole('link', { name: /Open preview of agent/ });
      expect(await preview.getAttribute('href')).toMatch(/\/v1\/workspaces\/[^/]+\/ports\/8000\//);
      expect(await preview.getAttribute('href')).not.toContain(berth.token);
      await shot(page, 'workspace');

      // Terminal: run echo and read the output back from xterm.
      await page.getByRole('tab', { name: 'Terminal' }).click();
      await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
      await typeInTerminal(page, 'echo dash-$((6*7))-ok');
      await expect.poll(() => terminalText(page), { timeout: 15_000 }).toContain('dash-42-ok');
      await shot(page, 'terminal');
      // The terminal follows the window: a narrower window gives the shell fewer columns.
      const columns = async (): Promise<number> => {
        const marker = `cols-${Math.random().toString(36).slice(2, 8)}`;
        await typeInTerminal(page, `echo ${marker}=$(stty size | cut -d' ' -f2)`);
        let found = 0;
        await expect
          .poll(async () => {
            found = Number(new RegExp(`${marker}=(\\d+)`).exec(await terminalText(page))?.[1] ?? 0);
            return found;
          })
          .toBeGreaterThan(0);
        return found;
      };
      const wide = await columns();
      await page.setViewportSize({ width: 800, height: 800 });
      await expect.poll(columns, { timeout: 10_000 }).toBeLessThan(wide);
      await page.setViewportSize({ width: 1280, height: 800 });

      // Logs: a line written to the workspace process's stdout appears while following.
      const logLine = `dash-log-${Date.now()}`;
      await typeInTerminal(page, `echo ${logLine} > /proc/1/fd/1`);
      await page.getByRole('tab', { name: 'Logs' }).click();
      const logs = page.getByRole('log', { name: 'Log lines' });
      await expect.poll(() => logs.innerText(), { timeout: 20_000 }).toContain(logLine);
      // The terminal kept its session while hidden; the log follow is still open.
      await page.getByRole('tab', { name: 'Terminal' }).click();
      await typeInTerminal(page, `echo ${logLine}-later > /proc/1/fd/1`);
      await page.getByRole('tab', { name: 'Logs' }).click();
      await expect.poll(() => logs.innerText(), { timeout: 20_000 }).toContain(`${logLine}-later`);
      await page.getByPlaceholder('Search logs').fill('later');
      await expect.poll(() => logs.innerText()).not.toContain(`${logLine}\n`);
      await page.getByPlaceholder('Search logs').fill('');
      await shot(page, 'logs');

      // Files: upload, see it listed, view it, download it and compare.
      await page.getByRole('tab', { name: 'Files' }).click();
      const content = `hello from the dashboard test ${Date.now()}\n`;
      await page
        .getByLabel('Upload files')
        .setInputFiles({ name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
      await page.locator('tr[data-file="hello.txt"]').waitFor();
      const stored = await berth.api<string>('GET', `/v1/workspaces/${name}/files/content?path=hello.txt`);
      expect(stored.body).toBe(content);
      await page.getByRole('button', { name: 'hello.txt', exact: true }).click();
      await expect.poll(() => page.getByLabel('Content of hello.txt').innerText()).toContain(content.trim());
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download hello.txt' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('hello.txt');
      expect(readFileSync(await download.path(), 'utf8')).toBe(content);
      await shot(page, 'files');

      await page.getByRole('tab', { name: 'Events' }).click();
      await page.locator('table.events code', { hasText: 'workspace.running' }).first().waitFor();
      await shot(page, 'events');

      // Stop and start with confirmation; the status follows live.
      await page.getByRole('tab', { name: 'Overview' }).click();
      const header = page.locator('.ws-header');
      await header.getByRole('button', { name: 'Stop' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Stop' }).click();
      await header.locator('[data-status="stopped"]').waitFor({ timeout: 60_000 });
      await header.getByRole('button', { name: 'Start' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Start' }).click();
      await header.locator('[data-status="running"]').waitFor({ timeout: 60_000 });

      // The list shows it running (live, no reload), at laptop and tablet widths.
      await page.getByRole('link', { name: '← Workspaces' }).click();
      const row = page.locator(`tr[data-workspace="${name}"]`);
      await row.locator('[data-status="running"]').waitFor();
      await shot(page, 'workspaces');
      await page.setViewportSize({ width: 768, height: 1024 });
      await shot(page, 'workspaces-tablet');
      await page.setViewportSize({ width: 1280, height: 800 });

      // Delete with confirmation; the row goes when the stream says it is gone.
      await row.getByRole('button', { name: `Delete ${name}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await row.waitFor({ state: 'detached', timeout: 60_000 });
      const after = await berth.api('GET', `/v1/workspaces/${name}`);
      expect(after.status).toBe(404);

      expect(await page.evaluate(() => (globalThis as { berthNoReload?: boolean }).berthNoReload)).toBe(true);
      // Sign out forgets the token.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('berth.token'))).toBeNull();
      expect(problems).toEqual([]);
      expect(berth.log()).not.toContain(berth.token);
    } finally {
      await browser?.close();
      await berth?.cleanup();
      if (process.env.BERTH_UPDATE_SCREENSHOTS !== '1') rmSync(SHOTS_DIR, { recursive: true, force: true });
    }
  });
});
