import type { ImageInfo, RuntimeInfo } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { servedBerth } from './serve.js';

/**
 * The runtime catalogue and its images from the CLI (issue 6), against a real `berth serve`:
 * what the tables show, and how a create of a runtime whose needs are not met fails. Building the
 * images themselves is tested in packages/server/test/runtime-images.test.ts.
 */
const served = servedBerth('runtimes');

describe('berth runtimes and berth images', () => {
  it('lists the agent runtimes with their image, presence and required env', () => {
    const table = served.berth('runtimes');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+IMAGE\s+PRESENT\s+SOURCE\s+REQUIRED ENV\s+DESCRIPTION/m);
    expect(table.stdout).toMatch(
      /^claude-code\s+berth-claude-code:\S+\s+(yes|no)\s+build\s+ANTHROPIC_API_KEY\|ANTHROPIC_AUTH_TOKEN\|CLAUDE_CODE_OAUTH_TOKEN\s/m,
    );
    const json = served.berth('runtimes', '--json');
    const items = (JSON.parse(json.stdout) as { items: RuntimeInfo[] }).items;
    expect(items.find((r) => r.name === 'codex')).toMatchObject({
      configFormat: 'codex',
      requiredEnv: ['OPENAI_API_KEY|CODEX_API_KEY'],
      agent: true,
      readiness: { command: ['codex', '--version'] },
      provisionTimeoutMs: 180_000,
      requiredFiles: ['codex/config.toml'],
    });

    const images = served.berth('images', 'ls');
    expect(images.code, images.stderr).toBe(0);
    expect(images.stdout).toMatch(/^RUNTIME\s+IMAGE\s+PRESENT\s+SIZE\s+SOURCE\s+CURRENT\s+DIGEST\s+BASE/m);
    expect(images.stdout).toMatch(
      /^shell\s+berth-shell:\S+\s+yes\s+[\d.]+ [kKM]B\s+build\s+yes\s+(\S+@)?[0-9a-f]{12}\s+-/m,
    );
    // Building follows the server's progress rather than holding one request for minutes.
    const rebuilt = served.berth('images', 'build', 'shell');
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(/^berth-shell:\S+ is present \(runtime shell, [\d.]+ [kKM]B\)$/m);
    const listed = (JSON.parse(served.berth('images', 'ls', '--json').stdout) as { items: ImageInfo[] })
      .items;
    expect(listed.find((i) => i.runtime === 'langgraph')).toMatchObject({
      source: 'build',
      command: 'berth images build langgraph',
    });
  });

  it('fails a create whose required env is missing, or whose image is not built, saying what to do', () => {
    const keyless = served.berth('create', 'no-key', '--runtime', 'claude-code');
    expect(keyless.code).toBe(8);
    expect(keyless.stderr).toContain('code: env_missing');
    expect(keyless.stderr).toContain(
      'one of ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN',
    );

    const wrongKnob = served.berth('create', 'no-cli', '--runtime', 'langgraph', '--model', 'm');
    expect(wrongKnob.code).toBe(5); // validation
    expect(wrongKnob.stderr).toContain('has no agent CLI config');

    const images = (JSON.parse(served.berth('images', 'ls', '--json').stdout) as { items: ImageInfo[] })
      .items;
    if (images.find((i) => i.runtime === 'langgraph')?.present) return; // built on this machine (PyPI reachable)
    const unbuilt = served.berth('create', 'no-image', '--runtime', 'langgraph');
    expect(unbuilt.code).toBe(8);
    expect(unbuilt.stderr).toContain('code: image_not_found');
    expect(unbuilt.stderr).toContain('berth images build langgraph');
  });
});
