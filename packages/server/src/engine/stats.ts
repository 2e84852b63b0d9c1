import type { ContainerStats } from './types.js';

/** The CPU part of an engine stats document. */
export interface EngineCpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/**
 * The parts of a Docker Engine API stats document (`GET /containers/{id}/stats?stream=false`)
 * Berth reads. Podman's compatible API sends the same shape with less in it.
 */
export interface EngineStatsSample {
  read?: string;
  preread?: string;
  cpu_stats?: EngineCpuStats;
  precpu_stats?: EngineCpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> | null };
  pids_stats?: { current?: number; limit?: number };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
}

/** Epoch milliseconds of an engine timestamp; null for none or Go's zero time (`0001-01-01…`). */
function timeOf(iso: string | undefined): number | null {
  if (!iso || iso.startsWith('0001-')) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** A count the engine may leave out, or send as "unlimited" (0, or a uint64 maximum). */
function limitOf(value: number | undefined): number | null {
  return value !== undefined && value > 0 && value < Number.MAX_SAFE_INTEGER ? value : null;
}

/**
 * Whether the sample carries the earlier CPU reading a rate needs. Docker's `stream=false` answer
 * does (it waits for a second reading, about a second later); Podman 4's leaves `precpu_stats`
 * empty and `preread` at the zero time, so the driver takes two samples and pairs them.
 */
export function hasPreviousCpu(sample: EngineStatsSample): boolean {
  return timeOf(sample.preread) !== null && sample.precpu_stats?.cpu_usage?.total_usage !== undefined;
}

/** `later` with `earlier`'s CPU reading as its previous one: two samples made into one rate. */
export function withPrevious(later: EngineStatsSample, earlier: EngineStatsSample): EngineStatsSample {
  return {
    ...later,
    ...(earlier.cpu_stats ? { precpu_stats: earlier.cpu_stats } : {}),
    ...(earlier.read !== undefined ? { preread: earlier.read } : {}),
  };
}

/**
 * One sample of resource use from an engine stats document (pure; unit-tested in stats.test.ts).
 *
 * CPU is the container's CPU time between the two readings over the wall-clock time between them,
 * in percent of one CPU, capped at the online CPUs. That is the figure `docker stats` shows, which
 * divides by the host's CPU time instead: on Docker the two agree (the host's CPU time grows by the
 * wall-clock time times the online CPUs), but Podman's `system_cpu_usage` counts only busy time,
 * which would inflate the figure on an idle host. Memory leaves out the inactive file cache
 * (`total_inactive_file` on cgroup v1, `inactive_file` on v2), as `docker stats` does.
 */
export function computeStats(sample: EngineStatsSample, now: Date = new Date()): ContainerStats {
  const cpu = sample.cpu_stats;
  const onlineCpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1;
  let percent = 0;
  const read = timeOf(sample.read);
  const preread = timeOf(sample.preread);
  const used = cpu?.cpu_usage?.total_usage;
  const usedBefore = sample.precpu_stats?.cpu_usage?.total_usage;
  if (read !== null && preread !== null && used !== undefined && usedBefore !== undefined) {
    const wallNs = (read - preread) * 1e6;
    const cpuNs = used - usedBefore;
    if (wallNs > 0 && cpuNs > 0) percent = Math.min((cpuNs / wallNs) * 100, onlineCpus * 100);
  }

  const memory = sample.memory_stats ?? {};
  const usage = memory.usage ?? 0;
  const detail = memory.stats ?? {};
  const inactiveFile = detail.total_inactive_file ?? detail.inactive_file ?? 0;
  const usageBytes = inactiveFile < usage ? usage - inactiveFile : usage;

  let rxBytes = 0;
  let txBytes = 0;
  for (const net of Object.values(sample.networks ?? {})) {
    rxBytes += net.rx_bytes ?? 0;
    txBytes += net.tx_bytes ?? 0;
  }

  return {
    at: new Date(read ?? now.getTime()).toISOString(),
    cpu: { percent: Math.round(percent * 100) / 100, onlineCpus },
    memory: { usageBytes, limitBytes: limitOf(memory.limit) },
    pids: { current: sample.pids_stats?.current ?? 0, limit: limitOf(sample.pids_stats?.limit) },
    network: { rxBytes, txBytes },
  };
}
