import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODE_LIST } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { errorsMarkdown } from '../api/error-docs.js';
import { configurationMarkdown } from './docs.js';

const docs = join(import.meta.dirname, '../../../../docs');

describe('generated docs are up to date (run `npm run docs` after changing a schema)', () => {
  it('docs/configuration.md matches the config schema', () => {
    expect(readFileSync(join(docs, 'configuration.md'), 'utf8')).toBe(configurationMarkdown());
  });

  it('docs/errors.md lists exactly the registry codes', () => {
    const text = readFileSync(join(docs, 'errors.md'), 'utf8');
    expect(text).toBe(errorsMarkdown());
    const documented = [...text.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(ERROR_CODE_LIST);
  });
});
