import type { Berth, WorkspaceData } from '@berth/sdk';
import { percent } from '../chart.js';
import { ErrorBox } from '../components/error-box.js';
import { Sparkline } from '../components/sparkline.js';
import { bytes } from '../format.js';
import { STATS_POLL_MS, STATS_WINDOW_MS, useStatsHistory } from '../stats.js';

const MINUTES = STATS_WINDOW_MS / 60_000;

/**
 * The workspace's CPU and memory over the last few minutes as two small charts, with the current
 * figures (and pids and network) as text. Sampled every few seconds while it runs.
 */
export function ResourceUse({ berth, ws }: { berth: Berth; ws: WorkspaceData }) {
  const running = ws.status === 'running' || ws.status === 'unresponsive';
  const { samples, error } = useStatsHistory(berth, ws.id, running);
  const latest = samples.at(-1);
  const to = Date.now();
  // A short history fills the box; from five minutes on, the box is the last five minutes.
  const first = samples[0] ? Date.parse(samples[0].at) : to;
  const from = Math.max(to - STATS_WINDOW_MS, Math.min(first, to - 2 * STATS_POLL_MS));
  const gapMs = STATS_POLL_MS * 3;
  const cpuLimit = ws.resources.cpus * 100;
  const cpu = samples.map((s) => ({ t: Date.parse(s.at), v: s.cpu.percent }));
  const cpuPeak = Math.max(0, ...cpu.map((p) => p.v));
  const memLimit = latest?.memory.limitBytes ?? ws.resources.memoryMb * 1024 * 1024;
  const mem = samples.map((s) => ({ t: Date.parse(s.at), v: s.memory.usageBytes }));
  const memPeak = Math.max(0, ...mem.map((p) => p.v));
  const spanS = Math.round((to - from) / 1000);
  const over = `over the last ${spanS < 120 ? `${spanS} seconds` : `${Math.round(spanS / 60)} minutes`}`;

  return (
    <section aria-labelledby="usage-title" className="usage">
      <h2 id="usage-title">Resource use</h2>
      {!running ? (
        <p className="muted">
          {ws.name} is {ws.status}; its resource use is measured while it runs
          {samples.length > 0 ? ' (the charts keep what was measured before)' : ''}.
        </p>
      ) : latest ? null : (
        <p className="muted" role="status">
          Measuring…
        </p>
      )}
      <ErrorBox error={error} />
      {samples.length > 0 ? (
        <>
          <div className="usage-charts">
            <figure className="usage-chart" data-metric="cpu">
              <figcaption>
                CPU <strong data-value>{latest ? percent(latest.cpu.percent) : '—'}</strong>{' '}
                <span className="muted small">
                  of {percent(cpuLimit)} ({ws.resources.cpus} {ws.resources.cpus === 1 ? 'CPU' : 'CPUs'}),
                  peak {percent(cpuPeak)}
                </span>
              </figcaption>
              <Sparkline
                points={cpu}
                from={from}
                to={to}
                max={Math.max(cpuLimit, cpuPeak)}
                gapMs={gapMs}
                summary={`CPU ${over}, scale 0 to ${percent(cpuLimit)}: now ${latest ? percent(latest.cpu.percent) : 'unknown'}, peak ${percent(cpuPeak)}`}
              />
            </figure>
            <figure className="usage-chart" data-metric="memory">
              <figcaption>
                Memory <strong data-value>{latest ? bytes(latest.memory.usageBytes) : '—'}</strong>{' '}
                <span className="muted small">
                  of {bytes(memLimit)} ({percent(latest ? (latest.memory.usageBytes / memLimit) * 100 : 0)}),
                  peak {bytes(memPeak)}
                </span>
              </figcaption>
              <Sparkline
                points={mem}
                from={from}
                to={to}
                max={Math.max(memLimit, memPeak)}
                gapMs={gapMs}
                summary={`Memory ${over}, scale 0 to ${bytes(memLimit)}: now ${latest ? bytes(latest.memory.usageBytes) : 'unknown'}, peak ${bytes(memPeak)}`}
              />
            </figure>
          </div>
          {latest ? (
            <p className="muted small">
              Processes {latest.pids.current}
              {latest.pids.limit !== null ? ` of ${latest.pids.limit}` : ''} · network{' '}
              {bytes(latest.network.rxBytes)} received, {bytes(latest.network.txBytes)} sent · charts of up to
              the last {MINUTES} minutes, a sample every {STATS_POLL_MS / 1000} s, the last at{' '}
              <time dateTime={latest.at}>{new Date(latest.at).toLocaleTimeString()}</time>
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
