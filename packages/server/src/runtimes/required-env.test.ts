import { describe, expect, it } from 'vitest';
import { describeRequiredEnv, missingRequiredEnv } from './required-env.js';

describe('required env', () => {
  it('is satisfied by any one key of an alternative, and lists what nothing satisfies', () => {
    const required = ['ANTHROPIC_API_KEY|CLAUDE_CODE_OAUTH_TOKEN', 'REGION'];
    expect(missingRequiredEnv(required, ['CLAUDE_CODE_OAUTH_TOKEN', 'REGION'])).toEqual([]);
    expect(missingRequiredEnv(required, ['ANTHROPIC_API_KEY'])).toEqual(['REGION']);
    expect(missingRequiredEnv(required, [])).toEqual(required);
    expect(missingRequiredEnv([], [])).toEqual([]);
  });

  it('matches whole keys only, case-sensitively', () => {
    expect(missingRequiredEnv(['API_KEY'], ['API_KEY_2', 'api_key'])).toEqual(['API_KEY']);
  });

  it('reads an alternative as "one of"', () => {
    expect(describeRequiredEnv('A|B')).toBe('one of A, B');
    expect(describeRequiredEnv('A')).toBe('A');
  });
});
