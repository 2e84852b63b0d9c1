/**
 * Pure parts of the resource charts (unit-tested in chart.test.ts): a rolling window of samples
 * and the SVG paths of a sparkline.
 */

export interface Point {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

/** `history` plus `sample`, in time order, without samples older than `windowMs` before the newest. */
export function appendSample<T extends { at: string }>(
  history: readonly T[],
  sample: T,
  windowMs: number,
): T[] {
  const at = Date.parse(sample.at);
  const last = history.at(-1);
  // The same sample twice (two polls answered by one engine reading) is kept once.
  if (last && last.at === sample.at) return [...history.slice(0, -1), sample];
  const next = [...history, sample].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return next.filter((s) => Date.parse(s.at) >= at - windowMs);
}

export interface SparkOptions {
  /** The time span drawn, left to right. */
  from: number;
  to: number;
  /** The value at the top edge (values above it are drawn at the top). */
  max: number;
  width: number;
  height: number;
  /** Points further apart than this are not joined (the workspace was stopped, or polling paused). */
  gapMs: number;
}

/** A line through the points and the area under it, as SVG path data; segments break at gaps. */
export function sparkPaths(points: readonly Point[], o: SparkOptions): { line: string; area: string } {
  const span = Math.max(1, o.to - o.from);
  const x = (t: number): number => round(((t - o.from) / span) * o.width);
  const y = (v: number): number =>
    round(o.height - (Math.min(Math.max(v, 0), o.max) / (o.max > 0 ? o.max : 1)) * o.height);
  const segments: Point[][] = [];
  let current: Point[] = [];
  for (const p of points) {
    if (p.t < o.from || p.t > o.to) continue;
    const prev = current.at(-1);
    if (prev && p.t - prev.t > o.gapMs) {
      segments.push(current);
      current = [];
    }
    current.push(p);
  }
  if (current.length > 0) segments.push(current);
  const line: string[] = [];
  const area: string[] = [];
  for (const seg of segments) {
    const first = seg[0];
    const last = seg.at(-1);
    if (!first || !last) continue;
    const pts = seg.map((p) => `${x(p.t)} ${y(p.v)}`);
    // A single point is drawn as a short flat stroke so it shows.
    if (seg.length === 1) pts.push(`${Math.min(o.width, x(first.t) + 2)} ${y(first.v)}`);
    const endX = seg.length === 1 ? Math.min(o.width, x(first.t) + 2) : x(last.t);
    line.push(`M${pts.join(' L')}`);
    area.push(`M${x(first.t)} ${o.height} L${pts.join(' L')} L${endX} ${o.height} Z`);
  }
  return { line: line.join(' '), area: area.join(' ') };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** `12.3%`, `0.4%`, `150%`. */
export function percent(n: number): string {
  return `${n >= 100 ? Math.round(n) : n.toFixed(1)}%`;
}
