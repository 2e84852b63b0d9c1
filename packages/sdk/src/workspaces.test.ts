import { describe, expect, it } from 'vitest';
import { listQuery } from './workspaces.js';

describe('listQuery', () => {
  it('joins statuses with commas and repeats labels', () => {
    expect(
      listQuery({
        status: ['running', 'failed'],
        labels: { team: 'a', env: 'ci' },
        runtime: 'shell',
        limit: 10,
      }),
    ).toEqual({
      status: 'running,failed',
      label: ['team=a', 'env=ci'],
      runtime: 'shell',
      limit: 10,
      cursor: undefined,
    });
  });
  it('accepts one status and leaves absent filters out', () => {
    expect(listQuery({ status: 'running' })).toMatchObject({ status: 'running', label: undefined });
    expect(listQuery({ status: [] }).status).toBeUndefined();
  });
});
