import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Names fields the API never takes, with the reason, so a 400 says what to do instead (B2-B5). */
const REFUSED_FIELDS: Record<string, string> = {
  privileged: 'privileged containers come only with tiers 3-4',
  cap_add: 'capabilities are set by the tier',
  capAdd: 'capabilities are set by the tier',
  network_mode: 'networking is set by the tier',
  networkMode: 'networking is set by the tier',
  pid: 'namespaces are set by the tier',
  ipc: 'namespaces are set by the tier',
  userns: 'namespaces are set by the tier',
  security_opt: 'security options are set by the tier',
  securityOpt: 'security options are set by the tier',
  devices: 'devices are never passed into a workspace',
  sysctls: 'sysctls are never set by callers',
  gpus: 'GPUs are not offered by this server',
  volumes: 'use workspace.hostPath with workspace.access',
  binds: 'use workspace.hostPath with workspace.access',
  mounts: 'use workspace.hostPath with workspace.access',
  workdir: 'the working directory is /workspace',
  user: 'the user comes from the runtime catalogue',
};

/**
 * Parses untrusted input with a zod schema. On failure: 400 validation_failed listing every issue
 * with its path (`details.issues`), and a first line that says how to fix the first one.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const path = [where, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${k}"${REFUSED_FIELDS[k] ? ` (${REFUSED_FIELDS[k]})` : ''}`);
      return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys.join(', ')}` };
    }
    return { path, message: issue.message };
  });
  const first = issues[0];
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  throw new AppError('validation_failed', `${first?.path}: ${first?.message}${more}`, {
    details: { issues },
  });
}
