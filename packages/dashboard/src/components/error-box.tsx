import { BerthError } from '@berth/sdk';

interface Issue {
  path: string;
  message: string;
}

function issuesOf(err: unknown): Issue[] {
  if (!(err instanceof BerthError)) return [];
  const issues = err.details?.issues;
  return Array.isArray(issues)
    ? issues.filter(
        (i): i is Issue =>
          typeof (i as Issue)?.path === 'string' && typeof (i as Issue)?.message === 'string',
      )
    : [];
}

/** An error as the API said it: its stable code, its message (which says what to do) and every issue. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  const code = error instanceof BerthError ? error.code : undefined;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'unexpected error';
  const issues = issuesOf(error);
  return (
    <div className="error-box" role="alert">
      {title ? <strong>{title}: </strong> : null}
      {code ? <code className="error-code">{code}</code> : null} <span>{message}</span>
      {issues.length > 1 ? (
        <ul>
          {issues.map((issue) => (
            <li key={`${issue.path}:${issue.message}`}>
              <code>{issue.path}</code>: {issue.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
