import type { BuiltinGrant, GrantInput, RestartPolicy } from '@berth/protocol';
import type { Tier, WorkspaceAccess, WorkspaceSpecInput } from '@berth/sdk';
import { parsePairs, parsePorts } from '../format.js';

/** A custom grant as typed: `header: prefix + secret` on HTTPS to `hosts` (comma-separated). */
export interface CustomGrantRow {
  name: string;
  hosts: string;
  header: string;
  secret: string;
  prefix: string;
}

/** An env var filled from a secret: `key` gets the value of the secret `secret`. */
export interface SecretEnvRow {
  key: string;
  secret: string;
}

export const EMPTY_GRANT: CustomGrantRow = { name: '', hosts: '', header: '', secret: '', prefix: '' };
export const EMPTY_SECRET_ENV: SecretEnvRow = { key: '', secret: '' };

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
  customGrants: CustomGrantRow[];
  secretEnv: SecretEnvRow[];
  buildImage: boolean;
  model: string;
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
  customGrants: [],
  secretEnv: [],
  buildImage: false,
  model: '',
};

const blank = (row: object): boolean => Object.values(row).every((v) => String(v).trim() === '');

/**
 * Custom grants as the API takes them. Rows left empty are skipped; the rest go as typed (trimmed,
 * the prefix kept as is: `Bearer ` ends in a space), so the API's validation speaks for them.
 */
export function grantsOf(rows: CustomGrantRow[]): GrantInput[] {
  return rows
    .filter((row) => !blank(row))
    .map((row) => ({
      name: row.name.trim(),
      hosts: row.hosts.split(/[\s,]+/).filter(Boolean),
      header: row.header.trim(),
      secret: row.secret.trim(),
      ...(row.prefix === '' ? {} : { prefix: row.prefix }),
    }));
}

/** `secretEnv` rows into the record the API takes; a key given twice is an error here. */
export function secretEnvOf(rows: SecretEnvRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  rows.forEach((row, i) => {
    if (blank(row)) return;
    const key = row.key.trim();
    if (!key) throw new Error(`secret env, row ${i + 1}: give the env var's name`);
    if (key in out) throw new Error(`secret env, row ${i + 1}: ${key} is given twice`);
    out[key] = row.secret.trim();
  });
  return out;
}

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
  const grants: GrantInput[] = [...form.grants, ...grantsOf(form.customGrants)];
  if (grants.length > 0) spec.grants = grants;
  const secretEnv = secretEnvOf(form.secretEnv);
  if (Object.keys(secretEnv).length > 0) spec.secretEnv = secretEnv;
  if (form.buildImage) spec.buildImage = true;
  if (form.model.trim()) spec.agentConfig = { model: form.model.trim() };
  return spec;
}
