import type { Berth } from '@berth/sdk';
import { useState } from 'react';
import { ErrorBox } from '../components/error-box.js';
import { storeToken, verifyToken } from '../session.js';

/** Sign-in with an admin or user token; it is checked against the API before it is kept. */
export function SignIn({ onSignedIn }: { onSignedIn: (berth: Berth) => void }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <main className="sign-in">
      <h1>Berth</h1>
      <p>
        Sign in with an API token: the admin token (printed at the first start, or in
        &lt;data-dir&gt;/admin-token) or a user token from <code>berth tokens create</code>.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          const value = token.trim();
          verifyToken(value)
            .then((berth) => {
              storeToken(value);
              setToken('');
              onSignedIn(berth);
            })
            .catch((err: unknown) => setError(err))
            .finally(() => setBusy(false));
        }}
      >
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <p className="hint">
          Kept in this browser tab only (session storage) until you sign out or close the tab.
        </p>
        <ErrorBox error={error} title="Sign-in failed" />
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
