import { sparkPaths, type Point } from '../chart.js';

const WIDTH = 300;
const HEIGHT = 56;

/**
 * A small inline SVG chart of one measure over time (no chart library). It is an image to
 * assistive technology, named by `summary`, which says what the picture shows in words; the
 * current figures are text next to it.
 */
export function Sparkline({
  points,
  from,
  to,
  max,
  gapMs,
  summary,
}: {
  points: readonly Point[];
  from: number;
  to: number;
  max: number;
  gapMs: number;
  summary: string;
}) {
  const { line, area } = sparkPaths(points, { from, to, max, width: WIDTH, height: HEIGHT, gapMs });
  return (
    <svg
      className="spark"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={summary}
    >
      <title>{summary}</title>
      <line className="spark-grid" x1="0" x2={WIDTH} y1={HEIGHT / 2} y2={HEIGHT / 2} />
      <path className="spark-area" d={area} />
      <path className="spark-line" d={line} vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
