import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_DIR } from '../../server/src/api/routes/dashboard.js';
import { docker, startBerth, type TestBerth } from '../../server/test/harness.js';

/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real
 * daemon on the real engine: sign in, build the image, create, live status, resource chart,
 * terminal (and leaving it with the keyboard), logs, files, delete, global secrets (set, listed by
 * name only, deleted; a user token gets 403); every page's controls have
 * names and are reached with Tab.
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

/** The few browser objects the in-page functions touch (this file compiles without the DOM library). */
interface PageElement {
  dataset: Record<string, string | undefined>;
  outerHTML: string;
  tagName: string;
  textContent: string | null;
  checked?: boolean;
  getAttribute(name: string): string | null;
  getClientRects(): { length: number };
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  blur(): void;
}
interface PageWindow {
  document: { activeElement: PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
  getComputedStyle(el: PageElement): { visibility: string };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void };
  berthProgress?: string[];
}

/**
 * Keyboard and labels on the page as shown: every control in the accessibility tree has a name
 * (from Playwright's ARIA snapshot), and Tab from the top reaches every visible, enabled control
 * (inactive tabs and unchecked radios excepted: arrow keys move to those).
 */
async function keyboardAudit(page: Page): Promise<{ unnamed: string[]; unreached: string[] }> {
  const snapshot = await page.locator('body').ariaSnapshot();
  const unnamed = snapshot
    .split('\n')
    .filter((line) =>
      /^\s*- (button|link|textbox|searchbox|combobox|checkbox|radio|spinbutton|slider|switch|tab)(\s*\[[^\]]*\])*\s*(:.*)?$/.test(
        line,
      ),
    );
  const count = await page.evaluate(() => {
    const w = globalThis as unknown as PageWindow;
    const visible = (el: PageElement): boolean =>
      el.getClientRects().length > 0 && w.getComputedStyle(el).visibility !== 'hidden';
    const controls = [
      ...w.document.querySelectorAll(
        'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])',
      ),
    ].filter(
      (el) =>
        visible(el) &&
        // Roving focus: arrow keys move between tabs, and between the radios of a group.
        !(el.getAttribute('role') === 'tab' && el.getAttribute('aria-selected') !== 'true') &&
        !(el.getAttribute('type') === 'radio' && !el.checked),
    );
    controls.forEach((el, i) => (el.dataset.kbd = String(i)));
    w.document.activeElement?.blur();
    return controls.length;
  });
  const reached = new Set<string>();
  for (let i = 0; i < count + 5; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(
      () => (globalThis as unknown as PageWindow).document.activeElement?.dataset.kbd,
    );
    if (id !== undefined) reached.add(id);
  }
  const unreached = await page.evaluate(
    (seen) =>
      [...(globalThis as unknown as PageWindow).document.querySelectorAll('[data-kbd]')]
        .filter((el) => !seen.includes(el.dataset.kbd ?? ''))
        .map((el) => el.outerHTML.slice(0, 160)),
    [...reached],
  );
  await page.evaluate(() =>
    [...(globalThis as unknown as PageWindow).document.querySelectorAll('[data-kbd]')].forEach(
      (el) => delete el.dataset.kbd,
    ),
  );
  await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.blur());
  return { unnamed, unreached };
}

async function expectKeyboardUsable(page: Page, what: string): Promise<void> {
  expect(await keyboardAudit(page), what).toEqual({ unnamed: [], unreached: [] });
}

describe.skipIf(!haveChromium && !inCi)('dashboard in a browser', () => {
  it('signs in, builds the image, creates, follows status and resource use live, uses terminal, logs and files, stops, starts and deletes', async () => {
    if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) {
      throw new Error(`the dashboard is not built at ${DASHBOARD_DIR}: run npm run build`);
    }
    let berth: TestBerth | undefined;
    let browser: Browser | undefined;
    // An image tag of this test's own: the Images page builds it, then the workspace uses it.
    const shellImage = `berth-shell-dash:${randomUUID().slice(0, 8)}`;
    try {
      berth = await startBerth({ config: { shellImage } });
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
      await expectKeyboardUsable(page, 'sign-in');
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

      // Images: the shell image is missing; Build makes it, with the progress the API reports.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Images' }).click();
      const shellRow = page.locator('tr[data-runtime="shell"]');
      await shellRow.locator('[data-present="false"]').waitFor();
      expect(await shellRow.innerText()).toContain(shellImage);
      await expectKeyboardUsable(page, 'images');
      // Everything the row's status showed while building (the API's progress names the image).
      await shellRow.evaluate((element) => {
        const row = element as unknown as PageElement;
        const seen: string[] = [];
        const w = globalThis as unknown as PageWindow;
        w.berthProgress = seen;
        new w.MutationObserver(() => {
          const text = row.querySelector('.progress-text')?.textContent;
          if (text && !seen.includes(text)) seen.push(text);
        }).observe(row, { subtree: true, childList: true, characterData: true });
      });
      await shellRow.getByRole('button', { name: 'Build shell' }).click();
      await shellRow.locator('[data-present="true"]').waitFor({ timeout: 120_000 });
      await expect
        .poll(() => page.getByRole('status').filter({ hasText: 'Built' }).innerText())
        .toContain(shellImage);
      const progressSeen = await page.evaluate(
        () => (globalThis as unknown as PageWindow).berthProgress ?? [],
      );
      expect(
        progressSeen.some((text) => text.includes(`building ${shellImage}`)),
        progressSeen.join(' | '),
      ).toBe(true);
      expect(await shellRow.locator('td').nth(2).innerText()).toMatch(/\d+(\.\d)? (B|KiB|MiB)/);
      await shot(page, 'images');

      // Create from the form; the API's validation message is shown as the API wrote it.
      await page.getByRole('link', { name: 'New workspace' }).first().click();
      await expectKeyboardUsable(page, 'create form');
      await page.getByLabel('Name').fill('Not A Valid Name');
      await page.getByRole('button', { name: 'Create workspace' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('validation_failed');
      await page.getByLabel('Name').fill(name);
      // An agent CLI runtime offers its model and, while its image is missing, building it first;
      // switching back drops both.
      await page.getByLabel('Runtime').selectOption('claude-code');
      await expect.poll(() => page.locator('#ws-runtime-hint').innerText()).toContain('ANTHROPIC_API_KEY');
      await expect.poll(() => page.getByLabel('Model').isVisible()).toBe(true);
      await page.getByLabel('Model').fill('claude-sonnet-4-5');
      await page.getByLabel('Runtime').selectOption('shell');
      await expect.poll(() => page.getByLabel('Model').count()).toBe(0);
      // Custom grants and secret env vars go into the spec; a bad env key is the API's to refuse.
      await page.getByRole('button', { name: 'Add custom grant' }).click();
      await page.locator('#ws-grant-0-name').fill('internal');
      await page.locator('#ws-grant-0-hosts').fill('api.internal.example, files.internal.example');
      await page.locator('#ws-grant-0-header').fill('Authorization');
      await page.locator('#ws-grant-0-secret').fill('INTERNAL_TOKEN');
      await page.locator('#ws-grant-0-prefix').fill('Bearer ');
      await page.getByRole('button', { name: 'Add env var from a secret' }).click();
      await page.getByRole('textbox', { name: 'Env var 1' }).fill('1BAD');
      await page.getByRole('textbox', { name: 'Secret name 1' }).fill('db-password');
      await expectKeyboardUsable(page, 'create form with custom grant and secret env');
      await page.getByRole('button', { name: 'Create workspace' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('secretEnv.1BAD');
      expect(await page.getByRole('alert').innerText()).not.toContain('grants');
      await page.getByRole('button', { name: 'Remove env var 1' }).click();
      await page.getByRole('button', { name: 'Remove custom grant 1' }).click();
      expect(await page.locator('#ws-grant-0-name').count()).toBe(0);
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
      // Resource use: the chart gets a sample with the current figures as text.
      const cpuFigure = page.locator('figure[data-metric="cpu"]');
      await expect
        .poll(() => cpuFigure.locator('[data-value]').innerText(), { timeout: 30_000 })
        .toMatch(/^\d+(\.\d)?%$/);
      expect(await page.locator('figure[data-metric="memory"] [data-value]').innerText()).toMatch(
        /^\d+(\.\d)? (B|KiB|MiB)$/,
      );
      expect(
        await page
          .getByRole('img', { name: /^CPU over the last \d+ (seconds|minutes), scale 0 to 100%/ })
          .getAttribute('aria-label'),
      ).toMatch(/now \d/);
      await expectKeyboardUsable(page, 'workspace overview');

      // Terminal: run echo and read the output back from xterm.
      await page.getByRole('tab', { name: 'Terminal' }).click();
      await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
      await typeInTerminal(page, 'echo dash-$((6*7))-ok');
      await expect.poll(() => terminalText(page), { timeout: 15_000 }).toContain('dash-42-ok');
      await shot(page, 'terminal');
      // The terminal keeps Tab for the shell; Ctrl+] moves focus out of it, to "New terminal"; from
      // there Shift+Tab reaches the tabs and Tab comes back into the terminal.
      const focused = (): Promise<string> =>
        page.evaluate(() => {
          const el = (globalThis as unknown as PageWindow).document.activeElement;
          return el?.closest('.xterm') ? 'terminal' : `${el?.tagName ?? ''}:${el?.textContent ?? ''}`;
        });
      expect(await page.getByText('Ctrl+] to move focus out').count()).toBe(1);
      expect(await focused()).toBe('terminal');
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('terminal');
      await page.keyboard.press('Control+BracketRight');
      expect(await focused()).toBe('BUTTON:New terminal');
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('BUTTON:Terminal');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('terminal');
      await page.keyboard.type('echo back-$((1+1))');
      await page.keyboard.press('Enter');
      await expect.poll(() => terminalText(page)).toContain('back-2');
      // Some work for the resource chart: 32 MiB held for a minute, and a CPU loop for a while.
      await typeInTerminal(
        page,
        "dd if=/dev/zero bs=32M count=1 2>/dev/null | sleep 60 & timeout 20 sh -c 'while :; do :; done' &",
      );
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
      await expectKeyboardUsable(page, 'logs');

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
      await expectKeyboardUsable(page, 'files');

      await page.getByRole('tab', { name: 'Events' }).click();
      await page.locator('table.events code', { hasText: 'workspace.running' }).first().waitFor();
      await shot(page, 'events');

      // The overview has followed resource use meanwhile (the chart has a line); then stop and
      // start with confirmation, the status following live.
      await page.getByRole('tab', { name: 'Overview' }).click();
      await expect
        .poll(() => page.locator('figure[data-metric="cpu"] .spark-line').getAttribute('d'), {
          timeout: 30_000,
        })
        .toMatch(/^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){2}/);
      await shot(page, 'workspace');
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
      // What it uses now, next to its limits.
      await expect
        .poll(() => row.locator('[data-usage]').innerText(), { timeout: 30_000 })
        .toMatch(/in use: \d+(\.\d)?% CPU, \d/);
      await expectKeyboardUsable(page, 'workspace list');
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

      // Secrets: set a global one (a password field; the value is never shown again), see it
      // listed by name, delete it with confirmation.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets' }).click();
      await page.getByRole('heading', { name: 'Secrets' }).waitFor();
      await expectKeyboardUsable(page, 'secrets');
      const secretName = `DASH_${berth.runId.slice(2, 10).toUpperCase()}`;
      const secretValue = `dash-secret-value-${randomUUID()}`;
      await page.getByLabel('Secret name').fill(secretName);
      expect(await page.getByLabel('Value').getAttribute('type')).toBe('password');
      await page.getByLabel('Value').fill(secretValue);
      await page.getByRole('button', { name: 'Set secret' }).click();
      const secretRow = page.locator(`tr[data-secret="${secretName}"]`);
      await secretRow.waitFor();
      await expect
        .poll(() => page.getByRole('status').filter({ hasText: 'secret' }).innerText())
        .toBe(`Set secret ${secretName}.`);
      expect(await page.getByLabel('Value').inputValue()).toBe('');
      expect(await page.locator('body').innerText()).not.toContain(secretValue);
      expect(await page.content()).not.toContain(secretValue);
      const listed = await berth.api<{ items: Array<{ name: string }> }>('GET', '/v1/secrets');
      expect(listed.body.items.map((item) => item.name)).toContain(secretName);
      await shot(page, 'secrets');
      await secretRow.getByRole('button', { name: `Delete secret ${secretName}` }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await secretRow.waitFor({ state: 'detached' });
      await expect
        .poll(() => page.getByRole('status').filter({ hasText: 'secret' }).innerText())
        .toBe(`Deleted secret ${secretName}.`);
      const afterDelete = await berth.api<{ items: Array<{ name: string }> }>('GET', '/v1/secrets');
      expect(afterDelete.body.items.map((item) => item.name)).not.toContain(secretName);

      expect(await page.evaluate(() => (globalThis as { berthNoReload?: boolean }).berthNoReload)).toBe(true);
      // Sign out forgets the token.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('berth.token'))).toBeNull();

      // A user token may not manage global secrets: the page shows the API's 403.
      const user = await berth.api<{ secret: string }>('POST', '/v1/tokens', {
        body: { name: `dash-user-${berth.runId.slice(2, 10)}`, scope: 'user' },
      });
      expect(user.status).toBe(201);
      await page.getByLabel('API token').fill(user.body.secret);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets' }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toContain('forbidden');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
      expect(problems).toEqual([]);
      expect(berth.log()).not.toContain(berth.token);
    } finally {
      await browser?.close();
      await berth?.cleanup();
      await docker
        .getImage(shellImage)
        .remove({ force: true })
        .catch(() => {});
      if (process.env.BERTH_UPDATE_SCREENSHOTS !== '1') rmSync(SHOTS_DIR, { recursive: true, force: true });
    }
  });
});
