import { describe, expect, it } from 'vitest';
import { renderKeyValues, renderTable } from './table.js';

describe('renderTable', () => {
  it('aligns columns with two spaces and no trailing whitespace', () => {
    expect(
      renderTable(
        ['NAME', 'ID', 'NOTE'],
        [
          ['a', 'ws_1', ''],
          ['longer-name', 'ws_22', 'x'],
        ],
      ),
    ).toBe(['NAME         ID     NOTE', 'a            ws_1', 'longer-name  ws_22  x'].join('\n'));
  });
  it('prints only the header when there are no rows', () => {
    expect(renderTable(['A', 'B'], [])).toBe('A  B');
  });
});

describe('renderKeyValues', () => {
  it('aligns values and indents continuation lines', () => {
    expect(
      renderKeyValues([
        ['Name', 'x'],
        ['Endpoints', 'NAME  URL\nweb   http://h'],
      ]),
    ).toBe(['Name:       x', 'Endpoints:  NAME  URL', '            web   http://h'].join('\n'));
  });
});
