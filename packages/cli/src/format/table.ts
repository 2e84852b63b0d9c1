/** Left-aligned columns separated by two spaces, no trailing whitespace; header row first. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        return i === widths.length - 1 ? cell : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `Key:  value` lines with the values aligned; multi-line values are indented under the first line. */
export function renderKeyValues(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length + 1));
  return pairs
    .map(([key, value]) => {
      const [first = '', ...rest] = value.split('\n');
      const head = `${`${key}:`.padEnd(width)}  ${first}`.trimEnd();
      return [head, ...rest.map((l) => `${' '.repeat(width + 2)}${l}`.trimEnd())].join('\n');
    })
    .join('\n');
}
