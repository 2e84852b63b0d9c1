import { ERROR_CODES, ERROR_CODE_LIST } from '@berth/protocol';

/** docs/errors.md, generated from the error-code registry (a test fails when they differ). */
export function errorsMarkdown(): string {
  return [
    '# Error codes',
    '',
    'Generated from `packages/protocol/src/errors.ts` by `npm run docs`; a test fails when this file and the',
    'registry disagree. Every API error is `{ "code", "message", "requestId", "details"? }`; the `message` says',
    'how to fix the problem and `requestId` (also the `x-request-id` header) finds the request in the server log.',
    'Codes marked *workspace* can also appear as a failed workspace’s `error.code`.',
    '',
    '| Code | HTTP | Workspace | Meaning |',
    '|---|---|---|---|',
    ...ERROR_CODE_LIST.map((code) => {
      const info = ERROR_CODES[code];
      return `| \`${code}\` | ${info.status} | ${info.workspace ? 'yes' : ''} | ${info.summary.replace(/\|/g, '\\|')} |`;
    }),
    '',
  ].join('\n');
}
