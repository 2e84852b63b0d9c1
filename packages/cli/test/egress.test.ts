import type { Workspace } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { servedBerth } from './serve.js';

const { berth } = servedBerth('cli-egress');

describe('berth create --allow/--grant and berth egress', () => {
  it('creates an allowlist workspace, shows its policy and changes it in place', () => {
    const created = berth(
      'create',
      'cli-egress',
      '--allow',
      'registry.npmjs.org',
      '--grant',
      'anthropic',
      '--grant',
      'internal=api.internal.example:Authorization:INTERNAL_TOKEN:Bearer ',
      '--json',
    );
    expect(created.code, created.stderr).toBe(0);
    const ws = JSON.parse(created.stdout) as Workspace;
    expect(ws.egress).toEqual({ mode: 'allowlist', allow: ['registry.npmjs.org'], deny: [] });
    expect(ws.grants.map((g) => g.name)).toEqual(['anthropic', 'internal']);
    expect(ws.grants[1]).toMatchObject({
      header: 'authorization',
      prefix: 'Bearer ',
      secret: 'INTERNAL_TOKEN',
    });

    const shown = berth('egress', 'cli-egress');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('egress of cli-egress');
    expect(shown.stdout).toContain('allow   registry.npmjs.org');
    expect(shown.stdout).toMatch(
      /grant {3}anthropic: x-api-key on api\.anthropic\.com from secret ANTHROPIC_API_KEY/,
    );

    const changed = berth('egress', 'cli-egress', '--deny', 'pastebin.com', '--clear-grants', '--json');
    expect(changed.code, changed.stderr).toBe(0);
    const after = JSON.parse(changed.stdout) as Workspace;
    expect(after.egress.deny).toEqual(['pastebin.com']);
    expect(after.grants).toEqual([]);
    expect(after.containerId).toBe(ws.containerId);

    const get = berth('get', 'cli-egress');
    expect(get.stdout).toMatch(/Egress:\s+allowlist: allow registry\.npmjs\.org; deny pastebin\.com/);

    const bad = berth('egress', 'cli-egress', '--allow', 'http://nope');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('not a host rule');
  });
});
