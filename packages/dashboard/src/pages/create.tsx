import { BUILTIN_GRANTS, RESTART_POLICIES, TIERS, TIER_NAMES } from '@berth/protocol';
import type { Berth, RuntimeInfo, WorkspaceSpecInput } from '@berth/sdk';
import { useEffect, useState, type ReactNode } from 'react';
import { ErrorBox } from '../components/error-box.js';
import { Link } from '../components/link.js';
import { navigate, workspacePath } from '../router.js';
import {
  EMPTY_GRANT,
  EMPTY_SECRET_ENV,
  INITIAL,
  specOf,
  type CustomGrantRow,
  type Form,
  type SecretEnvRow,
} from './create-spec.js';

const GRANT_FIELDS: Array<{ key: keyof CustomGrantRow; label: string; placeholder: string }> = [
  { key: 'name', label: 'Name', placeholder: 'internal' },
  { key: 'hosts', label: 'Hosts', placeholder: 'api.internal.example, …' },
  { key: 'header', label: 'Header', placeholder: 'Authorization' },
  { key: 'secret', label: 'Secret', placeholder: 'INTERNAL_TOKEN' },
  { key: 'prefix', label: 'Prefix (optional)', placeholder: 'Bearer ' },
];

function Field({
  label,
  hint,
  children,
  id,
}: {
  label: string;
  hint?: string;
  children: ReactNode;
  id: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

export function CreateWorkspace({ berth }: { berth: Berth }) {
  const [form, setForm] = useState<Form>(INITIAL);
  const [runtimes, setRuntimes] = useState<RuntimeInfo[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    berth.runtimes
      .list()
      .then(setRuntimes)
      .catch((err: unknown) => setError(err));
  }, [berth]);
  const set = <K extends keyof Form>(key: K, value: Form[K]): void =>
    setForm((f) => ({ ...f, [key]: value }));
  const runtime = runtimes.find((r) => r.name === form.runtime);
  const setGrant = (i: number, key: keyof CustomGrantRow, value: string): void =>
    setForm((f) => ({
      ...f,
      customGrants: f.customGrants.map((g, j) => (j === i ? { ...g, [key]: value } : g)),
    }));
  const setSecretEnv = (i: number, key: keyof SecretEnvRow, value: string): void =>
    setForm((f) => ({
      ...f,
      secretEnv: f.secretEnv.map((r, j) => (j === i ? { ...r, [key]: value } : r)),
    }));

  const submit = async (): Promise<void> => {
    setError(null);
    let spec: WorkspaceSpecInput;
    try {
      spec = specOf(form);
    } catch (err) {
      setError(err);
      return;
    }
    setBusy(true);
    try {
      // Returns the `provisioning` workspace at once; its page shows the progress live.
      const ws = await berth.workspaces.create(spec, { wait: false });
      navigate(workspacePath(ws.id));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="narrow">
      <p>
        <Link href="/">← Workspaces</Link>
      </p>
      <h1>New workspace</h1>
      <form
        className="create"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field
          id="ws-name"
          label="Name"
          hint="Lowercase letters, digits and dashes. Left empty, Berth picks one (brave-otter)."
        >
          <input
            id="ws-name"
            value={form.name}
            onChange={(e) => set('name', e.target.value)}
            aria-describedby="ws-name-hint"
          />
        </Field>
        <Field
          id="ws-runtime"
          label="Runtime"
          hint={
            runtime
              ? `${runtime.description} Image ${runtime.image}${runtime.imagePresent ? '' : ' (not built yet)'}.${
                  runtime.requiredEnv.length > 0
                    ? ` Needs ${runtime.requiredEnv.map((e) => e.split('|').join(' or ')).join(', ')} (a grant supplies it).`
                    : ''
                }`
              : undefined
          }
        >
          <select
            id="ws-runtime"
            value={form.runtime}
            onChange={(e) => {
              const name = e.target.value;
              // Model and build apply to the runtime they were chosen for.
              setForm((f) => ({ ...f, runtime: name, model: '', buildImage: false }));
            }}
            aria-describedby="ws-runtime-hint"
          >
            {runtimes.length === 0 ? <option value="shell">shell</option> : null}
            {runtimes.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
        </Field>
        {runtime && !runtime.imagePresent && runtime.source === 'build' ? (
          <label className="radio">
            <input
              type="checkbox"
              checked={form.buildImage}
              onChange={(e) => set('buildImage', e.target.checked)}
            />
            Build the image first (a few minutes); otherwise the create fails with the command that builds it
          </label>
        ) : null}
        {runtime?.configFormat ? (
          <Field
            id="ws-model"
            label="Model"
            hint={`Written into the ${runtime.configFormat} config in /configs. Empty: the CLI's default.`}
          >
            <input
              id="ws-model"
              value={form.model}
              onChange={(e) => set('model', e.target.value)}
              aria-describedby="ws-model-hint"
            />
          </Field>
        ) : null}
        <fieldset>
          <legend>Isolation tier</legend>
          {TIERS.map((tier) => (
            <label key={tier} className="radio">
              <input
                type="radio"
                name="tier"
                value={tier}
                checked={form.tier === tier}
                onChange={() => set('tier', tier)}
              />
              {tier} — {TIER_NAMES[tier]}
              {tier >= 3 ? <span className="muted"> (admin token and server setting only)</span> : null}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>/workspace</legend>
          <Field
            id="ws-access"
            label="Mount"
            hint="An isolated volume by default, or a host directory mounted read-only or read-write. Tier 1 has no /workspace."
          >
            <select
              id="ws-access"
              value={form.access}
              onChange={(e) => set('access', e.target.value as Form['access'])}
              aria-describedby="ws-access-hint"
            >
              <option value="">isolated volume (default)</option>
              <option value="read_only">host directory, read-only</option>
              <option value="read_write">host directory, read-write</option>
            </select>
          </Field>
          {form.access === 'read_only' || form.access === 'read_write' ? (
            <Field id="ws-host-path" label="Host directory" hint="An absolute path on the Berth host.">
              <input
                id="ws-host-path"
                value={form.hostPath}
                onChange={(e) => set('hostPath', e.target.value)}
                aria-describedby="ws-host-path-hint"
              />
            </Field>
          ) : null}
        </fieldset>
        <Field
          id="ws-env"
          label="Environment"
          hint="One KEY=value per line. Reserved keys (WORKSPACE_*, BERTH_*, proxies, loaders) are refused by the API."
        >
          <textarea
            id="ws-env"
            rows={3}
            value={form.env}
            onChange={(e) => set('env', e.target.value)}
            aria-describedby="ws-env-hint"
            spellCheck={false}
          />
        </Field>
        <Field id="ws-ports" label="Extra ports" hint="Published on 127.0.0.1, e.g. 3000, 8080:web.">
          <input
            id="ws-ports"
            value={form.ports}
            onChange={(e) => set('ports', e.target.value)}
            aria-describedby="ws-ports-hint"
          />
        </Field>
        <Field id="ws-labels" label="Labels" hint="One key=value per line (the berth. prefix is reserved).">
          <textarea
            id="ws-labels"
            rows={2}
            value={form.labels}
            onChange={(e) => set('labels', e.target.value)}
            aria-describedby="ws-labels-hint"
            spellCheck={false}
          />
        </Field>
        <div className="row wrap">
          <Field id="ws-memory" label="Memory (MB)" hint="Default: the server's.">
            <input
              id="ws-memory"
              inputMode="numeric"
              value={form.memoryMb}
              onChange={(e) => set('memoryMb', e.target.value)}
              aria-describedby="ws-memory-hint"
            />
          </Field>
          <Field id="ws-cpus" label="CPUs" hint="Default: the server's.">
            <input
              id="ws-cpus"
              inputMode="decimal"
              value={form.cpus}
              onChange={(e) => set('cpus', e.target.value)}
              aria-describedby="ws-cpus-hint"
            />
          </Field>
          <Field id="ws-restart" label="Restart policy">
            <select
              id="ws-restart"
              value={form.restartPolicy}
              onChange={(e) => set('restartPolicy', e.target.value as Form['restartPolicy'])}
            >
              <option value="">runtime default</option>
              {RESTART_POLICIES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <fieldset>
          <legend>Egress</legend>
          <Field
            id="ws-egress"
            label="Network access"
            hint="Default: none on tier 1, open on tier 2. An allowlist goes through Berth's egress gateway."
          >
            <select
              id="ws-egress"
              value={form.egress}
              onChange={(e) => set('egress', e.target.value as Form['egress'])}
              aria-describedby="ws-egress-hint"
            >
              <option value="">tier default</option>
              <option value="none">none</option>
              <option value="allowlist">allowlist</option>
              <option value="open">open</option>
            </select>
          </Field>
          {form.egress === 'allowlist' ? (
            <Field
              id="ws-egress-allow"
              label="Allowed hosts"
              hint="Host names or patterns, separated by spaces or commas."
            >
              <input
                id="ws-egress-allow"
                value={form.egressAllow}
                onChange={(e) => set('egressAllow', e.target.value)}
                aria-describedby="ws-egress-allow-hint"
              />
            </Field>
          ) : null}
          <fieldset className="grants">
            <legend>Grants</legend>
            <p className="hint">
              Credentials Berth&apos;s egress gateway injects on HTTPS to the grant&apos;s hosts, from a Berth
              secret (see <code>berth secrets</code>); the workspace sees only a placeholder.
            </p>
            {BUILTIN_GRANTS.map((grant) => (
              <label key={grant} className="radio">
                <input
                  type="checkbox"
                  checked={form.grants.includes(grant)}
                  onChange={(e) =>
                    set(
                      'grants',
                      e.target.checked ? [...form.grants, grant] : form.grants.filter((g) => g !== grant),
                    )
                  }
                />
                {grant}
              </label>
            ))}
            {form.customGrants.map((grant, i) => (
              <fieldset key={i} className="custom-grant" data-grant-row={i + 1}>
                <legend>Custom grant {i + 1}</legend>
                <div className="row wrap">
                  {GRANT_FIELDS.map(({ key, label, placeholder }) => (
                    <div className="field" key={key}>
                      <label htmlFor={`ws-grant-${i}-${key}`}>{label}</label>
                      <input
                        id={`ws-grant-${i}-${key}`}
                        value={grant[key]}
                        placeholder={placeholder}
                        spellCheck={false}
                        onChange={(e) => setGrant(i, key, e.target.value)}
                      />
                    </div>
                  ))}
                  <button
                    type="button"
                    aria-label={`Remove custom grant ${i + 1}`}
                    onClick={() =>
                      set(
                        'customGrants',
                        form.customGrants.filter((_, j) => j !== i),
                      )
                    }
                  >
                    Remove
                  </button>
                </div>
              </fieldset>
            ))}
            <p className="hint" id="ws-custom-grant-hint">
              A custom grant sets <code>header: prefix + secret</code> on HTTPS to its hosts (exact names,
              separated by commas). The secret is looked up in the workspace&apos;s scope, then globally.
            </p>
            <button
              type="button"
              aria-describedby="ws-custom-grant-hint"
              onClick={() => set('customGrants', [...form.customGrants, { ...EMPTY_GRANT }])}
            >
              Add custom grant
            </button>
          </fieldset>
        </fieldset>
        <fieldset className="secret-env">
          <legend>Secrets as env vars</legend>
          <p className="hint" id="ws-secret-env-hint">
            Puts a secret&apos;s value into the workspace&apos;s processes as an env var: the agent then holds
            it. Prefer a grant. A missing secret fails the start with <code>secret_missing</code>.
          </p>
          {form.secretEnv.map((row, i) => (
            <div className="row wrap" key={i} data-secret-env-row={i + 1}>
              <div className="field">
                <label htmlFor={`ws-secret-env-${i}-key`}>Env var {i + 1}</label>
                <input
                  id={`ws-secret-env-${i}-key`}
                  value={row.key}
                  placeholder="DB_PASSWORD"
                  spellCheck={false}
                  onChange={(e) => setSecretEnv(i, 'key', e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor={`ws-secret-env-${i}-secret`}>Secret name {i + 1}</label>
                <input
                  id={`ws-secret-env-${i}-secret`}
                  value={row.secret}
                  placeholder="db-password"
                  spellCheck={false}
                  onChange={(e) => setSecretEnv(i, 'secret', e.target.value)}
                />
              </div>
              <button
                type="button"
                aria-label={`Remove env var ${i + 1}`}
                onClick={() =>
                  set(
                    'secretEnv',
                    form.secretEnv.filter((_, j) => j !== i),
                  )
                }
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            aria-describedby="ws-secret-env-hint"
            onClick={() => set('secretEnv', [...form.secretEnv, { ...EMPTY_SECRET_ENV }])}
          >
            Add env var from a secret
          </button>
        </fieldset>
        <ErrorBox error={error} title="Not created" />
        <div className="row end">
          <Link href="/" className="button">
            Cancel
          </Link>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create workspace'}
          </button>
        </div>
      </form>
    </main>
  );
}
