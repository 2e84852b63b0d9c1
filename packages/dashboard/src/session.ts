import { Berth } from '@berth/sdk';

/**
 * The token lives in this tab's sessionStorage only: never in a URL, a cookie or a log line. It is
 * sent as `Authorization: Bearer` on requests (fetch, also for the event and log streams) and as the
 * `berth.bearer.` subprotocol on terminal WebSockets, which cannot carry headers.
 */
const TOKEN_KEY = 'berth.token';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An SDK client on this origin: the dashboard uses exactly the public API the SDK uses. */
export function clientFor(token: string): Berth {
  return new Berth({ url: window.location.origin, token });
}

/** Checks a token with a request every token may make (its own workspaces, one item). */
export async function verifyToken(token: string): Promise<Berth> {
  const berth = clientFor(token);
  await berth.workspaces.list({ limit: 1 });
  return berth;
}
