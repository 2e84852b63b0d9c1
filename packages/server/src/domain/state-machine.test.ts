import { WORKSPACE_STATUSES } from '@berth/protocol';
import { describe, expect, it } from 'vitest';
import { allowedFrom, canTransition } from './state-machine.js';

describe('workspace state machine', () => {
  it('never leaves deleted, and leaves deleting only to deleted', () => {
    for (const to of WORKSPACE_STATUSES) {
      expect(canTransition('deleted', to)).toBe(false);
      expect(canTransition('deleting', to)).toBe(to === 'deleted');
    }
  });

  it('reaches deleting from every live status (delete works from every status)', () => {
    expect(allowedFrom('deleting').sort()).toEqual(
      WORKSPACE_STATUSES.filter((s) => s !== 'deleting' && s !== 'deleted').sort(),
    );
  });

  it('follows the run lifecycle created → starting → running → stopping → stopped', () => {
    expect(canTransition('provisioning', 'starting')).toBe(true);
    expect(canTransition('starting', 'running')).toBe(true);
    expect(canTransition('running', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'stopped')).toBe(true);
    expect(canTransition('stopped', 'starting')).toBe(true);
    expect(canTransition('stopped', 'running')).toBe(false);
    expect(canTransition('provisioning', 'running')).toBe(false);
  });

  it('keeps every status reachable only through an explicit edge', () => {
    expect(allowedFrom('deleted')).toEqual(['deleting']);
    expect(allowedFrom('provisioning').sort()).toEqual([
      'failed',
      'running',
      'starting',
      'stopped',
      'unresponsive',
    ]);
  });

  it('lets a silent agent become unresponsive and recover, never from stopped or failed', () => {
    expect(allowedFrom('unresponsive')).toEqual(['running']);
    expect(canTransition('unresponsive', 'running')).toBe(true);
    expect(canTransition('unresponsive', 'starting')).toBe(true);
    expect(canTransition('stopped', 'unresponsive')).toBe(false);
    expect(canTransition('failed', 'running')).toBe(false);
  });
});
