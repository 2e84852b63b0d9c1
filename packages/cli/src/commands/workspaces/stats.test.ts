import { describe, expect, it } from 'vitest';
import { renderStats } from './stats.js';

describe('berth stats', () => {
  it('renders a sample with its limits, and without the ones the engine does not report', () => {
    const sample = {
      workspaceId: 'ws_1',
      at: '2026-01-01T00:00:00.000Z',
      cpu: { percent: 95.04, onlineCpus: 2 },
      memory: { usageBytes: 67_108_864, limitBytes: 268_435_456 },
      pids: { current: 4, limit: 128 },
      network: { rxBytes: 1300, txBytes: 136 },
    };
    expect(renderStats(sample)).toBe(
      [
        'CPU:      95.0% (100% = one CPU; 2 online)',
        'Memory:   67.1 MB of 268.4 MB (25.0%)',
        'Pids:     4 of 128 (3.1%)',
        'Network:  1.3 kB received, 136 B sent',
        'At:       2026-01-01T00:00:00.000Z',
      ].join('\n'),
    );
    const sparse = renderStats({
      ...sample,
      memory: { usageBytes: 1000, limitBytes: null },
      pids: { current: 1, limit: null },
    });
    expect(sparse).toContain('Memory:   1.0 kB\n');
    expect(sparse).toContain('Pids:     1\n');
  });
});
