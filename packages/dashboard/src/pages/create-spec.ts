import type { BuiltinGrant, RestartPolicy } from '@berth/protocol';
import type { Tier, WorkspaceAccess, WorkspaceSpecInput } from '@berth/sdk';
import { parsePairs, parsePorts } from '../format.js';

/** What the create form holds: text as typed, turned into a spec by `specOf`. */
export interface Form {
  name: string;
  runtime: string;
  tier: Tier;
  access: Exclude<WorkspaceAccess, 'none'> | '';
  hostPath: string;
  env: string;
  ports: string;
  labels: string;
  memoryMb: string;
  cpus: string;
  restartPolicy: RestartPolicy | '';
  egress: 'none' | 'allowlist' | 'open' | '';
  egressAllow: string;
  grants: BuiltinGrant[];
}

export const INITIAL: Form = {
  name: '',
  runtime: 'shell',
  tier: 2,
  access: '',
  hostPath: '',
  env: '',
  ports: '',
  labels: '',
  memoryMb: '',
  cpus: '',
  restartPolicy: '',
  egress: '',
  egressAllow: '',
  grants: [],
};

/** The spec the form describes: only what was filled in, so the API applies its own defaults. */
export function specOf(form: Form): WorkspaceSpecInput {
  const spec: WorkspaceSpecInput = { runtime: form.runtime, tier: form.tier };
  if (form.name.trim()) spec.name = form.name.trim();
  if (form.access) {
    spec.workspace = { access: form.access };
    if (form.hostPath.trim()) spec.workspace.hostPath = form.hostPath.trim();
  }
  const env = parsePairs(form.env, 'env');
  if (Object.keys(env).length > 0) spec.env = env;
  const labels = parsePairs(form.labels, 'labels');
  if (Object.keys(labels).length > 0) spec.labels = labels;
  const ports = parsePorts(form.ports);
  if (ports.length > 0) spec.ports = ports;
  if (form.memoryMb.trim() || form.cpus.trim()) {
    spec.resources = {};
    if (form.memoryMb.trim()) spec.resources.memoryMb = Number(form.memoryMb);
    if (form.cpus.trim()) spec.resources.cpus = Number(form.cpus);
  }
  if (form.restartPolicy) spec.restartPolicy = form.restartPolicy;
  if (form.egress) {
    spec.egress = { mode: form.egress };
    const allow = form.egressAllow.split(/[\s,]+/).filter(Boolean);
    if (allow.length > 0) spec.egress.allow = allow;
  }
  if (form.grants.length > 0) spec.grants = [...form.grants];
  return spec;
}
