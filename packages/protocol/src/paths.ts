/**
 * Where Berth keeps its data by default: `$BERTH_DATA_DIR`, else `$XDG_DATA_HOME/berth`, else
 * `~/.local/share/berth`. Pure (no Node imports) so the SDK stays browser-safe; callers pass env and home.
 */
export function defaultDataDir(env: Record<string, string | undefined>, home: string): string {
  if (env.BERTH_DATA_DIR) return env.BERTH_DATA_DIR;
  if (env.XDG_DATA_HOME) return `${env.XDG_DATA_HOME}/berth`;
  return `${home}/.local/share/berth`;
}

/** File in the data dir holding the generated admin token (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** Default API URL when `BERTH_URL` is not set. */
export const DEFAULT_URL = 'http://127.0.0.1:7420';
