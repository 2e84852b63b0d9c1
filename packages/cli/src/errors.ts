import { AuthenticationError, BerthError, WorkspaceFailedError } from '@berth/sdk';
import { CommanderError } from 'commander';
import { UsageError } from './exit-codes.js';

/** The `--json` document for an error: `{ "error": { code, message, requestId, ... } }`. */
export interface ErrorDocument {
  error: {
    code: string;
    message: string;
    requestId: string | null;
    details?: Record<string, unknown>;
    /** For `workspace failed`: the workspace, so scripts can inspect or delete it. */
    workspace?: unknown;
  };
}

export function errorDocument(err: unknown): ErrorDocument {
  if (err instanceof WorkspaceFailedError) {
    return { error: { code: err.code, message: err.message, requestId: null, workspace: err.workspace } };
  }
  if (err instanceof BerthError) {
    return {
      error: {
        code: err.code,
        message: err.message,
        requestId: err.requestId ?? null,
        ...(err.details ? { details: err.details } : {}),
      },
    };
  }
  if (err instanceof CommanderError) {
    return { error: { code: 'usage_error', message: err.message.replace(/^error: /, ''), requestId: null } };
  }
  if (err instanceof UsageError) return { error: { code: err.code, message: err.message, requestId: null } };
  return {
    error: { code: 'internal', message: err instanceof Error ? err.message : String(err), requestId: null },
  };
}

/** `- path.to.field: problem` lines from a validation error's `details.issues`, when it has any. */
export function formatIssues(details: Record<string, unknown> | undefined): string[] {
  const issues = details?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.flatMap((issue: unknown) => {
    if (typeof issue !== 'object' || issue === null) return [];
    const { path, message } = issue as { path?: unknown; message?: unknown };
    if (typeof message !== 'string') return [];
    const where = Array.isArray(path) && path.length > 0 ? `${path.map(String).join('.')}: ` : '';
    return [`  - ${where}${message}`];
  });
}

/** Human error text for stderr, with a hint on what to do next where there is an obvious one. */
export function renderError(err: unknown, context: { dataDir: string; subject?: string }): string {
  const prefix = `berth: error: ${context.subject === undefined ? '' : `${context.subject}: `}`;
  if (!(err instanceof Error)) return `${prefix}${String(err)}`;
  const lines = [`${prefix}${err.message}`];
  if (err instanceof BerthError) {
    lines.push(...formatIssues(err.details));
    if (err instanceof WorkspaceFailedError) {
      const id = err.workspace.id;
      lines.push(
        `  code: ${err.code}`,
        `  inspect it with \`berth get ${id}\`; remove it with \`berth rm ${id}\``,
      );
    } else if (err instanceof AuthenticationError) {
      lines.push(
        `  the token comes from --token, else BERTH_TOKEN, else ${context.dataDir}/admin-token (on the server host)`,
      );
    }
    const meta = [`code ${err.code}`];
    if (err.requestId !== undefined) meta.push(`request ${err.requestId}`);
    if (!(err instanceof WorkspaceFailedError)) lines.push(`  (${meta.join(', ')})`);
  }
  return lines.join('\n');
}
