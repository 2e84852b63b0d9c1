import { LABELS } from '../engine/labels.js';
import type { ContainerPlan } from '../engine/types.js';
import { TOOLS_MOUNT } from '../workspaces/container-plan.js';

/** The parts of `docker inspect` that drift detection reads. */
export interface InspectDoc {
  Config?: { Image?: string; User?: string; Env?: string[] | null; Labels?: Record<string, string> | null };
  HostConfig?: {
    NetworkMode?: string;
    PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
  };
  Mounts?: { Type?: string; Name?: string; Source?: string; Destination?: string; RW?: boolean }[] | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null };
}

export type DriftField = 'spec-hash' | 'image' | 'user' | 'env' | 'ports' | 'mounts' | 'network';

export interface Drift {
  field: DriftField;
  /** Human summary. Env drift names keys only: values may be secrets. */
  detail: string;
}

export interface DriftInput {
  plan: ContainerPlan;
  specHash: string;
  actual: InspectDoc;
  /** Env the image itself sets (a container's env includes it). */
  imageEnv: readonly string[];
  /** Env keys whose values come from the host (PLATFORM_URL, pass-through): not compared. */
  hostDerivedEnv: readonly string[];
}

/**
 * Seed 004's drift check: compares a running container with the container the spec plans. The
 * `berth.spec-hash` label catches a spec or planner change; image, user, ports, mounts, network
 * and env catch a container replaced or edited behind Berth's back. The tools mount is not
 * compared, so a Berth upgrade with a new helper does not recreate every workspace.
 */
export function detectDrift(input: DriftInput): Drift[] {
  const { plan, actual } = input;
  const drifts: Drift[] = [];
  const labelHash = actual.Config?.Labels?.[LABELS.specHash];
  if (labelHash !== input.specHash) {
    drifts.push({
      field: 'spec-hash',
      detail: `label ${LABELS.specHash} is ${short(labelHash)}, the spec's is ${short(input.specHash)}`,
    });
  }
  const image = actual.Config?.Image ?? '';
  if (normalizeImage(image) !== normalizeImage(plan.image)) {
    drifts.push({ field: 'image', detail: `image is ${image || '(none)'}, the spec asks for ${plan.image}` });
  }
  const user = actual.Config?.User ?? '';
  if (plan.user !== null && user !== plan.user) {
    drifts.push({ field: 'user', detail: `runs as "${user}", the spec asks for ${plan.user}` });
  }

  const envDrift = compareEnv(plan.env, actual.Config?.Env ?? [], input.imageEnv, input.hostDerivedEnv);
  if (envDrift) drifts.push({ field: 'env', detail: envDrift });

  const wantPorts = new Set(plan.publishPorts.map((p) => `${p}/tcp`));
  const bindings = actual.HostConfig?.PortBindings ?? {};
  const havePorts = new Set(Object.keys(bindings).filter((k) => (bindings[k] ?? []).length > 0));
  const exposedOutsideLoopback = Object.entries(bindings).some(([, list]) =>
    (list ?? []).some((b) => b.HostIp !== '127.0.0.1'),
  );
  if (!sameSet(wantPorts, havePorts) || exposedOutsideLoopback) {
    drifts.push({
      field: 'ports',
      detail: `publishes ${[...havePorts].sort().join(', ') || 'nothing'}${exposedOutsideLoopback ? ' (not only on 127.0.0.1)' : ''}, the spec asks for ${[...wantPorts].sort().join(', ') || 'nothing'} on 127.0.0.1`,
    });
  }

  const wantMounts = new Set(plan.mounts.filter((m) => m.target !== TOOLS_MOUNT).map(mountKey));
  const haveMounts = new Set(
    (actual.Mounts ?? [])
      .filter((m) => m.Destination !== TOOLS_MOUNT && (m.Type === 'volume' || m.Type === 'bind'))
      .map((m) =>
        mountKey({
          type: m.Type as 'volume' | 'bind',
          source: (m.Type === 'volume' ? m.Name : m.Source) ?? '',
          target: m.Destination ?? '',
          readOnly: m.RW === false,
        }),
      ),
  );
  if (!sameSet(wantMounts, haveMounts)) {
    const missing = [...wantMounts].filter((m) => !haveMounts.has(m));
    const extra = [...haveMounts].filter((m) => !wantMounts.has(m));
    drifts.push({
      field: 'mounts',
      detail: [
        missing.length ? `missing ${missing.join(', ')}` : '',
        extra.length ? `unexpected ${extra.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    });
  }

  const networks = Object.keys(actual.NetworkSettings?.Networks ?? {});
  const mode = actual.HostConfig?.NetworkMode ?? '';
  const netOk =
    plan.network.mode === 'none'
      ? mode === 'none' || networks.every((n) => n === 'none')
      : plan.network.mode === 'host'
        ? mode === 'host'
        : networks.length === 1 && networks[0] === plan.network.name;
  if (!netOk) {
    const want = plan.network.mode === 'network' ? plan.network.name : plan.network.mode;
    drifts.push({
      field: 'network',
      detail: `attached to ${networks.join(', ') || mode || 'nothing'}, the spec asks for ${want} only`,
    });
  }
  return drifts;
}

/** Env the engine itself adds to every container (Podman: HOSTNAME, TERM, container=podman). */
const ENGINE_ENV = ['HOSTNAME', 'TERM', 'container'];

function compareEnv(
  planned: readonly string[],
  actual: readonly string[],
  imageEnv: readonly string[],
  hostDerived: readonly string[],
): string | null {
  const toMap = (list: readonly string[]) =>
    new Map(
      list.map((e) => {
        const i = e.indexOf('=');
        return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
      }),
    );
  const want = toMap(planned);
  const have = toMap(actual);
  const fromImage = toMap(imageEnv);
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [key, value] of want) {
    if (hostDerived.includes(key)) continue;
    if (!have.has(key)) missing.push(key);
    else if (have.get(key) !== value) changed.push(key);
  }
  const unexpected = [...have.keys()].filter(
    (k) =>
      !want.has(k) &&
      !hostDerived.includes(k) &&
      !ENGINE_ENV.includes(k) &&
      !(fromImage.has(k) && fromImage.get(k) === have.get(k)),
  );
  const parts = [
    missing.length ? `missing ${missing.sort().join(', ')}` : '',
    changed.length ? `changed ${changed.sort().join(', ')}` : '',
    unexpected.length ? `unexpected ${unexpected.sort().join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : null;
}

const mountKey = (m: { type: string; source: string; target: string; readOnly: boolean }) =>
  `${m.type}:${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`;

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));

const short = (hash: string | undefined) => (hash ? hash.slice(0, 12) : '(none)');

/** `docker.io/library/x:1`, `localhost/x:1` (Podman) and `x:1` name the same image. */
export function normalizeImage(ref: string): string {
  let r = ref.replace(/^(docker\.io\/library\/|docker\.io\/|localhost\/)/, '');
  if (!r.includes(':') && !r.includes('@')) r += ':latest';
  return r;
}
