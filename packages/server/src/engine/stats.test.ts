import { describe, expect, it } from 'vitest';
import { computeStats, hasPreviousCpu, withPrevious, type EngineStatsSample } from './stats.js';

/** Trimmed from a real Docker 20.10 answer (cgroup v1) for a container busy on one CPU. */
const docker: EngineStatsSample = {
  read: '2026-12-03T12:27:44.187330419Z',
  preread: '2026-12-03T12:27:43.187330419Z',
  pids_stats: { current: 2, limit: 512 },
  cpu_stats: {
    cpu_usage: { total_usage: 5_950_000_000, percpu_usage: [4_000_000_000, 1_950_000_000] },
    system_cpu_usage: 14_247_400_000_000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 5_000_000_000, percpu_usage: [3_050_000_000, 1_950_000_000] },
    system_cpu_usage: 14_245_400_000_000,
    online_cpus: 2,
  },
  memory_stats: {
    usage: 70_000_000,
    limit: 536_870_912,
    stats: { total_inactive_file: 4_000_000, inactive_file: 1_000_000, cache: 5_000_000 },
  },
  networks: {
    eth0: { rx_bytes: 1236, tx_bytes: 100 },
    eth1: { rx_bytes: 64, tx_bytes: 36 },
  },
};

/** Trimmed from a real Podman 4.3 answer: no previous reading, no memory detail, no pids limit. */
const podman: EngineStatsSample = {
  read: '2026-12-03T12:29:08.318074387Z',
  preread: '0001-01-01T00:00:00Z',
  pids_stats: { current: 1 },
  cpu_stats: {
    cpu_usage: { total_usage: 32_835_113, percpu_usage: [30_650_934, 2_184_179] },
    system_cpu_usage: 2_262_927_270_759,
    online_cpus: 2,
  },
  precpu_stats: { cpu_usage: { total_usage: 0 } },
  memory_stats: { usage: 638_976, limit: 268_435_456 },
  networks: { network: { rx_bytes: 266, tx_bytes: 1020 } },
};

describe('container stats', () => {
  it('computes CPU over the interval, memory without inactive file cache, pids and network (Docker)', () => {
    expect(hasPreviousCpu(docker)).toBe(true);
    expect(computeStats(docker)).toEqual({
      at: '2026-12-03T12:27:44.187Z',
      cpu: { percent: 95, onlineCpus: 2 },
      // cgroup v1: total_inactive_file wins over the (non-hierarchical) inactive_file.
      memory: { usageBytes: 66_000_000, limitBytes: 536_870_912 },
      pids: { current: 2, limit: 512 },
      network: { rxBytes: 1300, txBytes: 136 },
    });
  });

  it('uses inactive_file on cgroup v2 and never goes below zero', () => {
    const v2 = { ...docker, memory_stats: { usage: 10_000, limit: 20_000, stats: { inactive_file: 4000 } } };
    expect(computeStats(v2).memory).toEqual({ usageBytes: 6000, limitBytes: 20_000 });
    const odd = { ...docker, memory_stats: { usage: 10_000, stats: { inactive_file: 50_000 } } };
    expect(computeStats(odd).memory).toEqual({ usageBytes: 10_000, limitBytes: null });
  });

  it('pairs two Podman samples into a rate; one alone has no CPU figure', () => {
    expect(hasPreviousCpu(podman)).toBe(false);
    expect(computeStats(podman).cpu).toEqual({ percent: 0, onlineCpus: 2 });
    const later: EngineStatsSample = {
      ...podman,
      read: '2026-12-03T12:29:09.318074387Z',
      cpu_stats: { ...podman.cpu_stats, cpu_usage: { total_usage: 32_835_113 + 500_000_000 } },
    };
    const paired = withPrevious(later, podman);
    expect(hasPreviousCpu(paired)).toBe(true);
    expect(computeStats(paired)).toEqual({
      at: '2026-12-03T12:29:09.318Z',
      cpu: { percent: 50, onlineCpus: 2 },
      memory: { usageBytes: 638_976, limitBytes: 268_435_456 },
      pids: { current: 1, limit: null },
      network: { rxBytes: 266, txBytes: 1020 },
    });
  });

  it('caps CPU at the online CPUs and tolerates a sparse document', () => {
    const burst = {
      ...docker,
      cpu_stats: { ...docker.cpu_stats, cpu_usage: { total_usage: 50_000_000_000 } },
    };
    expect(computeStats(burst).cpu.percent).toBe(200);
    const now = new Date('2026-01-01T00:00:00.000Z');
    expect(computeStats({}, now)).toEqual({
      at: '2026-01-01T00:00:00.000Z',
      cpu: { percent: 0, onlineCpus: 1 },
      memory: { usageBytes: 0, limitBytes: null },
      pids: { current: 0, limit: null },
      network: { rxBytes: 0, txBytes: 0 },
    });
    // A counter that went backwards (a restarted container) is no negative figure; "unlimited" pids is null.
    const restarted = {
      ...docker,
      precpu_stats: { cpu_usage: { total_usage: 9e12 } },
      pids_stats: { current: 3, limit: 2 ** 64 }, // a uint64 maximum, as JSON.parse reads it
    };
    expect(computeStats(restarted).cpu.percent).toBe(0);
    expect(computeStats(restarted).pids).toEqual({ current: 3, limit: null });
  });
});
