/**
 * Secrets: named values, write-only over the API (list shows names and metadata, never values),
 * global or scoped to one workspace, sealed at rest by the server.
 */

/** A secret name: a letter or `_`, then up to 127 letters, digits, `_`, `.` or `-`. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
/** Largest secret value, in UTF-8 bytes (the smallest is 1 byte). */
export const SECRET_MAX_VALUE_BYTES = 64 * 1024;

/** `global`: every workspace may resolve it; `workspace`: only `workspaceId` (and it wins there). */
export const SECRET_SCOPES = ['global', 'workspace'] as const;
export type SecretScope = (typeof SECRET_SCOPES)[number];

/** What the API tells about a secret: never its value. */
export interface SecretInfo {
  name: string;
  scope: SecretScope;
  /** The workspace of a `workspace` secret; null for `global`. */
  workspaceId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Body of `PUT /v1/secrets/{name}` and `PUT /v1/workspaces/{id}/secrets/{name}`. */
export interface SecretPut {
  /** UTF-8 text, 1 byte to 64 KiB. Binary values go base64-encoded. */
  value: string;
}

/** Result of `POST /v1/secrets/rekey`. */
export interface SecretRekeyResult {
  /** Secrets re-sealed with the active key. */
  rekeyed: number;
  /** The active key id (the first key of the key file or `BERTH_SECRETS_KEY`). */
  keyId: string;
}
