import { BERTH_VERSION } from '../version.js';

/** Every label key Berth writes; discovery filters on these, never on names alone. */
export const LABELS = {
  managed: 'berth.managed',
  workspace: 'berth.workspace',
  name: 'berth.name',
  specHash: 'berth.spec-hash',
  generation: 'berth.generation',
  role: 'berth.role',
  version: 'berth.version',
  testRun: 'berth.test-run',
  /** Which Berth store made the object: a Berth acts only on its own (several may share an engine). */
  store: 'berth.store',
} as const;

export type ResourceRole =
  'container' | 'configs-volume' | 'workspace-volume' | 'network' | 'helper' | 'image';

export interface OwnerRef {
  workspaceId: string;
  name: string;
  specHash: string;
  generation: number;
}

/** Labels for something Berth creates for a workspace. `extra` carries e.g. a test-run label. */
export function ownedLabels(
  owner: OwnerRef,
  role: ResourceRole,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    [LABELS.managed]: 'true',
    [LABELS.workspace]: owner.workspaceId,
    [LABELS.name]: owner.name,
    [LABELS.specHash]: owner.specHash,
    [LABELS.generation]: String(owner.generation),
    [LABELS.role]: role,
    [LABELS.version]: BERTH_VERSION,
  };
}

/** Filter matching everything Berth made for one workspace. */
export const workspaceFilter = (workspaceId: string): Record<string, string> => ({
  [LABELS.managed]: 'true',
  [LABELS.workspace]: workspaceId,
});

/** True when labels prove Berth made the object for this workspace (F17: adopt, never steal). */
export const ownedBy = (labels: Record<string, string>, workspaceId: string): boolean =>
  labels[LABELS.managed] === 'true' && labels[LABELS.workspace] === workspaceId;

export const resourceNames = (workspaceId: string) => ({
  container: `berth-${workspaceId}`,
  configsVolume: `berth-${workspaceId}-configs`,
  workspaceVolume: `berth-${workspaceId}-workspace`,
  network: `berth-${workspaceId}`,
});
