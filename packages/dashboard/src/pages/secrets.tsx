import type { SecretInfo } from '@berth/protocol';
import type { Berth } from '@berth/sdk';
import { useCallback, useEffect, useState } from 'react';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm.js';
import { ErrorBox } from '../components/error-box.js';
import { time } from '../format.js';

/**
 * Global secrets (`GET/PUT/DELETE /v1/secrets`, admin tokens): names and times only, never a
 * value. The value input is a password field, cleared as soon as the put is sent, and nothing the
 * page shows afterwards repeats it (the API returns metadata only). A user token gets the API's 403.
 */
export function SecretsPage({ berth }: { berth: Berth }) {
  const [items, setItems] = useState<SecretInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);

  const load = useCallback(async (): Promise<void> => {
    try {
      setItems(await berth.secrets.list());
    } catch (err) {
      setError(err);
    }
  }, [berth]);
  useEffect(() => {
    void load();
  }, [load]);

  const put = async (): Promise<void> => {
    const secretName = name.trim();
    const secretValue = value;
    // The value leaves the page's state at once, whatever the answer.
    setValue('');
    setError(null);
    setDone('');
    setBusy(true);
    try {
      const { created } = await berth.secrets.put(secretName, secretValue);
      setDone(`${created ? 'Set' : 'Replaced'} secret ${secretName}.`);
      setName('');
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = (secret: SecretInfo): void =>
    setConfirm({
      title: `Delete secret ${secret.name}?`,
      body: 'Grants and secret env vars that name it stop working in every workspace that uses the global secret.',
      confirm: 'Delete',
      danger: true,
      run: async () => {
        setError(null);
        setDone('');
        try {
          await berth.secrets.delete(secret.name);
          setDone(`Deleted secret ${secret.name}.`);
        } catch (err) {
          setError(err);
        }
        await load();
      },
    });

  return (
    <main>
      <h1>Secrets</h1>
      <p className="muted">
        Global secrets, used by name by grants and secret env vars in every workspace. Values are write-only:
        Berth seals them at rest and never shows them again, here or anywhere. Managing global secrets needs
        an admin token; a workspace&apos;s own secrets are set with{' '}
        <code>berth secrets set NAME -w WORKSPACE</code>.
      </p>
      <form
        className="secret-put row wrap"
        aria-label="Set a secret"
        onSubmit={(e) => {
          e.preventDefault();
          void put();
        }}
      >
        <div className="field">
          <label htmlFor="secret-name">Secret name</label>
          <input
            id="secret-name"
            value={name}
            required
            spellCheck={false}
            autoComplete="off"
            placeholder="ANTHROPIC_API_KEY"
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="secret-value">Value</label>
          <input
            id="secret-value"
            type="password"
            value={value}
            required
            autoComplete="new-password"
            onChange={(e) => setValue(e.target.value)}
          />
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Set secret'}
        </button>
      </form>
      <ErrorBox error={error} />
      <p role="status" className="done">
        {done}
      </p>
      <div className="table-wrap">
        <table className="secrets">
          <caption className="sr-only">Global secrets</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Updated</th>
              <th scope="col" className="wide">
                Created
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(items ?? []).map((secret) => (
              <tr key={secret.name} data-secret={secret.name}>
                <th scope="row">
                  <code>{secret.name}</code>
                </th>
                <td className="nowrap">{time(secret.updatedAt)}</td>
                <td className="wide nowrap">{time(secret.createdAt)}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`Delete secret ${secret.name}`}
                    onClick={() => remove(secret)}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {items === null && !error ? <p className="empty">Loading…</p> : null}
        {items?.length === 0 ? <p className="empty">No global secrets yet.</p> : null}
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </main>
  );
}
