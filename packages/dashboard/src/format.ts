import type { Progress, WorkspaceData } from '@berth/sdk';

/** `42s`, `5m`, `3h`, `2d` since `iso`. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The limits a workspace runs with (the API reports limits, not live usage). */
export function limits(ws: Pick<WorkspaceData, 'resources'>): string {
  const { memoryMb, cpus, pidsLimit } = ws.resources;
  return `${memoryMb} MB · ${cpus} CPU · ${pidsLimit} pids`;
}

/** `pulling image (45%)`: a progress report in a few words. */
export function progressText(progress: Progress | null): string {
  if (!progress) return '';
  const { current, total, unit } = progress;
  if (current === undefined || !total) return progress.message;
  const done = unit === 'bytes' ? `${bytes(current)} of ${bytes(total)}` : `${current} of ${total}`;
  return `${progress.message} (${done})`;
}

export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** `KEY=value` lines into a record; errors name the line. Blank lines and `#` comments are skipped. */
export function parsePairs(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`${what}, line ${i + 1}: write KEY=value`);
    out[line.slice(0, at).trim()] = line.slice(at + 1);
  });
  return out;
}

/** `3000`, `3000:web`, separated by commas or spaces. */
export function parsePorts(text: string): Array<number | { port: number; name: string }> {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((item) => {
      const [port, name] = item.split(':');
      const n = Number(port);
      if (!Number.isInteger(n) || n < 1 || n > 65_535) {
        throw new Error(`ports: ${JSON.stringify(item)} is not a port (1-65535, optionally port:name)`);
      }
      return name ? { port: n, name } : n;
    });
}
