/**
 * Stable error codes: the one registry. The HTTP body is `{ code, message, requestId, details? }`.
 * Codes marked `workspace: true` can also be a failed workspace's `error.code`; the store's
 * `error_codes` table is seeded from this registry and a test checks it against the real database.
 * docs/errors.md documents every code (a test fails when it misses one or lists a dead one).
 */
export interface ErrorCodeInfo {
  /** HTTP status the API answers with. */
  readonly status: number;
  /** Whether a failed workspace may carry this code. */
  readonly workspace: boolean;
  /** One line for docs/errors.md. */
  readonly summary: string;
}

export const ERROR_CODES = {
  validation_failed: {
    status: 400,
    workspace: false,
    summary: 'The body, path or query does not match the schema; `details.issues` lists every problem.',
  },
  invalid_json: {
    status: 400,
    workspace: false,
    summary: 'The body is not one well-formed JSON document (syntax error, duplicate key, nesting too deep).',
  },
  payload_too_large: { status: 413, workspace: false, summary: 'The body exceeds the server body limit.' },
  unsupported_media_type: {
    status: 415,
    workspace: false,
    summary: 'The body is not sent as `application/json`.',
  },
  unauthenticated: {
    status: 401,
    workspace: false,
    summary: 'No valid bearer token: send `Authorization: Bearer <token>`.',
  },
  forbidden: {
    status: 403,
    workspace: false,
    summary: 'The token is valid but its scope does not allow this.',
  },
  tier_not_allowed: {
    status: 403,
    workspace: false,
    summary: 'Tiers 3 and 4 need an admin token and the server setting `tiers.allowPrivileged: true`.',
  },
  route_not_found: { status: 404, workspace: false, summary: 'No such API route.' },
  workspace_not_found: {
    status: 404,
    workspace: false,
    summary: 'No workspace with that id or name is visible to this token.',
  },
  token_not_found: { status: 404, workspace: false, summary: 'No API token with that id.' },
  runtime_not_found: {
    status: 400,
    workspace: false,
    summary: 'The runtime is not in the catalogue; `GET /v1/runtimes` lists the names.',
  },
  template_not_found: {
    status: 400,
    workspace: false,
    summary: 'No config template with that name in the server templates directory.',
  },
  reserved_env_key: {
    status: 400,
    workspace: false,
    summary:
      'An env key is set by Berth (WORKSPACE_ID, PLATFORM_URL, ...) or is security-sensitive (LD_PRELOAD, HTTP_PROXY, ...).',
  },
  reserved_label: {
    status: 400,
    workspace: false,
    summary: 'Labels may not use the reserved `berth.` prefix.',
  },
  invalid_host_path: {
    status: 400,
    workspace: false,
    summary: 'The `/workspace` host path is not an allowed absolute directory.',
  },
  invalid_idempotency_key: {
    status: 400,
    workspace: false,
    summary: 'The Idempotency-Key header must be 1-255 visible ASCII characters.',
  },
  idempotency_key_reused: {
    status: 422,
    workspace: false,
    summary: 'The Idempotency-Key was already used with a different request body.',
  },
  name_conflict: { status: 409, workspace: false, summary: 'A live workspace already has that name.' },
  invalid_state: {
    status: 409,
    workspace: false,
    summary: 'The operation is not possible in the workspace’s current status (e.g. start while deleting).',
  },
  config_missing: {
    status: 422,
    workspace: true,
    summary:
      'The runtime requires config files (e.g. `config.yaml`) that neither `files`, `template` nor the config volume supply.',
  },
  image_not_found: {
    status: 422,
    workspace: true,
    summary:
      'The image is not present and could not be pulled or built; the message gives the command that builds it.',
  },
  image_build_failed: { status: 500, workspace: true, summary: 'Berth could not build a built-in image.' },
  runtime_unavailable: {
    status: 422,
    workspace: true,
    summary: 'The engine lacks a required OCI runtime (e.g. `runsc` with `gvisor: require`).',
  },
  container_exited: {
    status: 500,
    workspace: true,
    summary:
      'The workspace’s main process exited right after start; the message has its exit code and last log lines.',
  },
  engine_unavailable: {
    status: 503,
    workspace: true,
    summary: 'The container engine does not answer; retry once it is back.',
  },
  engine_error: { status: 502, workspace: true, summary: 'The container engine refused an operation.' },
  name_in_use_by_foreign_object: {
    status: 409,
    workspace: true,
    summary:
      'A container, volume or network Berth needs exists without Berth’s labels; Berth never touches it.',
  },
  provision_timeout: {
    status: 504,
    workspace: true,
    summary:
      "The runtime's agent did not register within its provision timeout; the message carries the last log lines.",
  },
  crash_loop: {
    status: 409,
    workspace: true,
    summary:
      'The workspace process failed too often within the restart window; restarts stopped. The message has the exit code and last log lines.',
  },
  readiness_failed: {
    status: 500,
    workspace: true,
    summary: 'The readiness probe did not pass within its timeout; the message has the probe’s last result.',
  },
  invalid_path: {
    status: 400,
    workspace: false,
    summary: 'A file path is absolute, has `..`, empty or control-character components, or is too long.',
  },
  path_escapes_root: {
    status: 400,
    workspace: false,
    summary: 'The path leads outside its root (`/workspace` or `/configs`) through a symlink, or loops.',
  },
  file_not_found: { status: 404, workspace: false, summary: 'No file or directory at that path.' },
  file_exists: { status: 409, workspace: false, summary: 'Something already exists at the target path.' },
  not_a_directory: {
    status: 400,
    workspace: false,
    summary: 'A path component, or the target, is not a directory.',
  },
  is_a_directory: {
    status: 400,
    workspace: false,
    summary: 'The target is a directory where a file was expected.',
  },
  directory_not_empty: {
    status: 409,
    workspace: false,
    summary: 'The directory is not empty; pass `recursive=true` to remove it with its contents.',
  },
  file_too_large: { status: 413, workspace: false, summary: 'The file or archive exceeds its byte cap.' },
  file_permission_denied: {
    status: 403,
    workspace: false,
    summary: 'The workspace user may not access that path (Berth acts as the workspace user).',
  },
  unsupported_file_type: {
    status: 400,
    workspace: false,
    summary: 'Only regular files (and directories) are read or archived: not devices, FIFOs or sockets.',
  },
  invalid_archive: {
    status: 400,
    workspace: false,
    summary:
      'The archive is malformed or has a refused entry (`..`, absolute, links out, devices, FIFOs, setuid bits, duplicates) or exceeds a cap.',
  },
  command_not_found: { status: 404, workspace: false, summary: 'No command with that id in this workspace.' },
  terminal_not_found: {
    status: 404,
    workspace: false,
    summary: 'No live terminal with that id in this workspace.',
  },
  port_not_declared: {
    status: 404,
    workspace: false,
    summary: 'The port is not one of the workspace’s declared ports, or is not published.',
  },
  secret_not_found: {
    status: 404,
    workspace: false,
    summary:
      'No secret with that name in that scope; `GET /v1/secrets` (global) or `GET /v1/workspaces/{id}/secrets` lists them.',
  },
  invalid_secret_name: {
    status: 400,
    workspace: false,
    summary: 'A secret name is a letter or `_`, then up to 127 letters, digits, `_`, `.` or `-`.',
  },
  invalid_secret_value: {
    status: 400,
    workspace: false,
    summary:
      'A secret value is a UTF-8 string of 1 byte to 64 KiB, sent as `{"value": "..."}`; base64-encode binary values. The value is never echoed.',
  },
  secret_unreadable: {
    status: 500,
    workspace: false,
    summary:
      'A stored secret cannot be opened with the server’s keys: put the key that sealed it back into the key file or `BERTH_SECRETS_KEY` (README, _Secrets_).',
  },
  env_missing: {
    status: 409,
    workspace: true,
    summary:
      'The runtime needs env keys the workspace does not have (`requiredEnv` in `GET /v1/runtimes`; `A|B` means either): give them in `env`, `secretEnv` or through a grant, then start it again.',
  },
  secret_missing: {
    status: 409,
    workspace: true,
    summary:
      'A secret that `secretEnv` names does not exist (workspace scope or global): set it with `berth secrets set <name>`, then start the workspace.',
  },
  egress_unavailable: {
    status: 503,
    workspace: true,
    summary:
      'The egress gateway could not be set up for the workspace (its socket, CA or token), so it was not started: egress fails closed. See the message and the server log.',
  },
  internal: {
    status: 500,
    workspace: true,
    summary: 'An unexpected server error; the requestId finds it in the logs.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];
export const WORKSPACE_ERROR_CODES = ERROR_CODE_LIST.filter((c) => ERROR_CODES[c].workspace);

/** The JSON body of every API error. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  requestId: string;
  details?: Record<string, unknown>;
}
