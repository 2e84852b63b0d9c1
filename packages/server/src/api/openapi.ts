import { ERROR_CODES, ROUTES, SECRET_NAME_PATTERN, type RouteName } from '@berth/protocol';
import { z } from 'zod';
import { BERTH_VERSION } from '../version.js';
import { AgentHeartbeatSchema, AgentRegisterSchema } from '../workspaces/agents.js';
import { CommandInputSchema, ExecInputSchema } from '../workspaces/commands.js';
import { EgressUpdateSchema, WorkspaceSpecSchema } from '../workspaces/spec.js';
import {
  AgentAckSchema,
  ApiTokenSchema,
  CommandInfoSchema,
  CreatedApiTokenSchema,
  ExecResultSchema,
  FileInfoSchema,
  LogLineSchema,
  PreviewSchema,
  TerminalInfoSchema,
  UploadSummarySchema,
  ErrorBodySchema,
  HealthSchema,
  ImageInfoSchema,
  RuntimeInfoSchema,
  SecretInfoSchema,
  SecretPutSchema,
  SecretRekeyResultSchema,
  SystemInfoSchema,
  TokenCreateSchema,
  WorkspaceEventSchema,
  WorkspaceSchema,
  WorkspaceStatsSchema,
} from './schemas.js';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const page = (id: string) => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: ref(id) }, nextCursor: { type: ['string', 'null'] } },
});
const list = (id: string) => ({
  type: 'object',
  required: ['items'],
  properties: { items: { type: 'array', items: ref(id) } },
});
const wait = {
  name: 'wait',
  in: 'query',
  schema: { type: 'boolean', default: true },
  description: 'Wait until the operation has finished (default) or return at once.',
};
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'Workspace id (ws_…) or name.',
};
const errors = (...codes: (keyof typeof ERROR_CODES)[]) =>
  Object.fromEntries(
    [...new Set(codes.map((c) => ERROR_CODES[c].status))].map((status) => [
      String(status),
      {
        description: codes
          .filter((c) => ERROR_CODES[c].status === status)
          .map((c) => `\`${c}\``)
          .join(', '),
        ...json(ref('Error')),
      },
    ]),
  );

type Operation = Record<string, unknown>;

const cidParam = { name: 'cid', in: 'path', required: true, schema: { type: 'string' } };
const rootParam = {
  name: 'root',
  in: 'query',
  schema: { type: 'string', enum: ['workspace', 'configs'], default: 'workspace' },
};
const pathParam = {
  name: 'path',
  in: 'query',
  schema: { type: 'string', default: '' },
  description: 'Relative to the root.',
};
const FILE_ERRORS = [
  'workspace_not_found',
  'invalid_state',
  'invalid_path',
  'path_escapes_root',
  'file_not_found',
  'file_exists',
  'file_too_large',
  'file_permission_denied',
  'unsupported_file_type',
] as const;

const secretNameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: SECRET_NAME_PATTERN.source },
  description: 'Secret name, e.g. `ANTHROPIC_API_KEY`.',
};
const SECRET_PUT_DESCRIPTION =
  'The value is sealed at rest (AES-256-GCM) and never returned: no response, error, event or log line carries it. Bad input changes nothing.';
const SECRET_PUT_ERRORS = [
  'invalid_secret_name',
  'invalid_secret_value',
  'validation_failed',
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
] as const;

const EVENTS_DESCRIPTION =
  'Without `Accept: text/event-stream` (or `stream=true`): one page, oldest first; pass `nextCursor` as `after` for the next. ' +
  'With it: `text/event-stream` with every event after the resume point (the `Last-Event-ID` header, else `after`), then new ones as they happen, ' +
  'each as `id: <event id>`, `event: <event type>`, `data: <WorkspaceEvent JSON>`; a `: keepalive` comment every 15 s; until the client disconnects.';
const eventParams = [
  {
    name: 'after',
    in: 'query',
    schema: { oneOf: [{ type: 'integer', minimum: 0 }, { const: 'now' }], default: 0 },
    description: 'Events with a greater id (0: from the beginning); `now` (streams only): only new events.',
  },
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    description: 'Page size (JSON pages only).',
  },
  {
    name: 'stream',
    in: 'query',
    schema: { type: 'boolean', default: false },
    description: 'Stream Server-Sent Events, as `Accept: text/event-stream` does.',
  },
  {
    name: 'Last-Event-ID',
    in: 'header',
    schema: { type: 'integer', minimum: 0 },
    description:
      'Streams: resume after this event id (what a reconnecting EventSource sends); wins over `after`.',
  },
];
const eventResponses = {
  description: 'A page of events, or the event stream',
  content: {
    'application/json': { schema: page('WorkspaceEvent') },
    'text/event-stream': {
      schema: {
        type: 'string',
        description: 'Server-Sent Events; each `data` is one WorkspaceEvent as JSON.',
      },
    },
  },
};

/** A WebSocket route (GET with an upgrade); its messages are described in docs/streams.md. */
const wsOperation = (summary: string, parameters: unknown[]): Operation => ({
  summary,
  description:
    'WebSocket, subprotocol `berth.v1`; the token may be sent as subprotocol `berth.bearer.<base64url(token)>`.',
  parameters,
  responses: {
    101: { description: 'Switching protocols' },
    ...errors('workspace_not_found', 'invalid_state'),
  },
});

const OPERATIONS: Record<RouteName, Operation> = {
  health: {
    summary: 'Liveness and engine health (no auth)',
    security: [],
    responses: { 200: json(z.toJSONSchema(HealthSchema)) },
  },
  openapi: {
    summary: 'This document (no auth)',
    security: [],
    responses: { 200: { description: 'OpenAPI 3.1' } },
  },
  systemInfo: {
    summary: 'Server version, engine and tier settings',
    responses: { 200: json(ref('SystemInfo')) },
  },
  listRuntimes: { summary: 'The runtime catalogue', responses: { 200: json(list('RuntimeInfo')) } },
  listImages: {
    summary: 'Each runtime’s image, whether it is present, and the progress of a build or pull under way',
    responses: { 200: json(list('ImageInfo')) },
  },
  buildImage: {
    summary: 'Make a runtime’s image present now: build it from Berth’s recipe, or pull it',
    description:
      'For a runtime Berth has a recipe for, builds every layer from the Debian base up whose recipe changed (the rest are reused); otherwise pulls the image. With `wait` (default) it answers when done; with `wait=false` it answers 202 at once, and `GET /v1/images` shows the progress, then the image present or its `lastError`. Admin only.',
    parameters: [{ name: 'runtime', in: 'path', required: true, schema: { type: 'string' } }, wait],
    responses: {
      200: json(ref('ImageInfo')),
      202: json(ref('ImageInfo')),
      ...errors('runtime_not_found', 'validation_failed', 'image_build_failed', 'image_not_found'),
    },
  },
  createWorkspace: {
    summary: 'Create a workspace',
    description:
      'Validates the spec, records the workspace and provisions it. With `wait` (default) the response comes once it is `running` or `failed`.',
    parameters: [
      wait,
      {
        name: 'Idempotency-Key',
        in: 'header',
        schema: { type: 'string', maxLength: 255 },
        description: 'Same key and body return the same workspace (200); same key, other body: 422.',
      },
    ],
    requestBody: { required: false, ...json(ref('WorkspaceSpec')) },
    responses: {
      201: { description: 'Created', ...json(ref('Workspace')) },
      200: { description: 'Replayed (same Idempotency-Key and body)', ...json(ref('Workspace')) },
      ...errors(
        'validation_failed',
        'invalid_json',
        'reserved_env_key',
        'reserved_label',
        'invalid_host_path',
        'runtime_not_found',
        'template_not_found',
        'invalid_idempotency_key',
        'unauthenticated',
        'tier_not_allowed',
        'name_conflict',
        'payload_too_large',
        'unsupported_media_type',
        'config_missing',
        'idempotency_key_reused',
        'engine_unavailable',
      ),
    },
  },
  listWorkspaces: {
    summary: 'List workspaces (newest first, cursor-paginated)',
    parameters: [
      { name: 'status', in: 'query', schema: { type: 'string' }, description: 'Comma-separated statuses.' },
      {
        name: 'label',
        in: 'query',
        schema: { type: 'array', items: { type: 'string' } },
        description: 'key=value, repeatable.',
      },
      { name: 'runtime', in: 'query', schema: { type: 'string' } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      { name: 'cursor', in: 'query', schema: { type: 'string' } },
    ],
    responses: { 200: json(page('Workspace')), ...errors('validation_failed') },
  },
  getWorkspace: {
    summary: 'Get a workspace',
    parameters: [idParam],
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found') },
  },
  stopWorkspace: {
    summary: 'Stop a workspace (keeps its container and volumes)',
    parameters: [idParam, wait],
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found', 'invalid_state') },
  },
  startWorkspace: {
    summary: 'Start a stopped or failed workspace',
    parameters: [idParam, wait],
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found', 'invalid_state') },
  },
  restartWorkspace: {
    summary: 'Stop then start a workspace',
    parameters: [idParam, wait],
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found', 'invalid_state') },
  },
  keepaliveWorkspace: {
    summary: 'Record activity on a running workspace: its idle timeout (idleTimeoutMs) starts over',
    parameters: [idParam],
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found', 'invalid_state') },
  },
  updateEgress: {
    summary: "Change a workspace's egress rules and grants in place",
    description:
      'Replaces the given parts (allow, deny, grants); the egress gateway applies them to the next connection and request, without recreating the container. `mode` is fixed at create.',
    parameters: [idParam],
    requestBody: { required: true, ...json(ref('EgressUpdate')) },
    responses: { 200: json(ref('Workspace')), ...errors('workspace_not_found', 'validation_failed') },
  },
  deleteWorkspace: {
    summary: 'Delete a workspace with its container, networks and volumes (idempotent)',
    parameters: [idParam, wait],
    responses: {
      204: { description: 'Deleted, or already gone' },
      202: { description: 'Deletion under way (wait=false)', ...json(ref('Workspace')) },
      ...errors('engine_unavailable', 'engine_error'),
    },
  },
  workspaceStats: {
    summary: "One sample of a running workspace's CPU, memory, pids and network use",
    description:
      'Read from the engine for the workspace container (about a second: CPU is measured over that interval). Not activity: it does not reset the idle timeout. A workspace that is not running answers 409 `invalid_state`.',
    parameters: [idParam],
    responses: {
      200: json(ref('WorkspaceStats')),
      ...errors('workspace_not_found', 'invalid_state', 'engine_unavailable'),
    },
  },
  listWorkspaceEvents: {
    summary: 'Status history and events of a workspace: JSON pages, or a live stream (Server-Sent Events)',
    description: EVENTS_DESCRIPTION,
    parameters: [idParam, ...eventParams],
    responses: {
      200: eventResponses,
      ...errors('workspace_not_found', 'validation_failed'),
    },
  },
  listEvents: {
    summary:
      'Events of every workspace the token may see (admin: all; user tokens: their own, deleted ones included): JSON pages, or a live stream (Server-Sent Events)',
    description: EVENTS_DESCRIPTION,
    parameters: eventParams,
    responses: { 200: eventResponses, ...errors('validation_failed') },
  },
  exec: {
    summary: 'Run a command to completion (argv or shell line); output capped, whole tree killed on timeout',
    parameters: [idParam],
    requestBody: { required: true, ...json(ref('ExecInput')) },
    responses: {
      200: json(ref('ExecResult')),
      ...errors('workspace_not_found', 'invalid_state', 'validation_failed', 'reserved_env_key'),
    },
  },
  startCommand: {
    summary: 'Start a background command (stdin closed); see the stream routes to watch it',
    parameters: [idParam],
    requestBody: { required: true, ...json(ref('CommandInput')) },
    responses: {
      201: json(ref('CommandInfo')),
      ...errors('workspace_not_found', 'invalid_state', 'validation_failed'),
    },
  },
  listCommands: {
    summary: 'Commands of the workspace (running, and recently finished)',
    parameters: [idParam],
    responses: { 200: json(list('CommandInfo')), ...errors('workspace_not_found') },
  },
  getCommand: {
    summary: 'One command',
    parameters: [idParam, cidParam],
    responses: { 200: json(ref('CommandInfo')), ...errors('command_not_found') },
  },
  killCommand: {
    summary: 'Signal a command (`{"signal":"SIGTERM"}`), or kill it with every process it started (default)',
    parameters: [idParam, cidParam],
    responses: { 200: json(ref('CommandInfo')), ...errors('command_not_found') },
  },
  streamNewCommand: wsOperation('Start a command and stream it over a WebSocket (docs/streams.md)', [
    idParam,
  ]),
  streamCommand: wsOperation('Re-attach to a running command over a WebSocket (docs/streams.md)', [
    idParam,
    cidParam,
  ]),
  listTerminals: {
    summary: 'Live terminals of the workspace',
    parameters: [idParam],
    responses: { 200: json(list('TerminalInfo')), ...errors('workspace_not_found') },
  },
  killTerminal: {
    summary: 'End a terminal and everything it started',
    parameters: [idParam, { name: 'tid', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { 204: { description: 'Ended' }, ...errors('terminal_not_found') },
  },
  streamNewTerminal: wsOperation('Open an interactive terminal (PTY) over a WebSocket (docs/streams.md)', [
    idParam,
  ]),
  streamTerminal: wsOperation('Reconnect to a live terminal (docs/streams.md)', [
    idParam,
    { name: 'tid', in: 'path', required: true, schema: { type: 'string' } },
    {
      name: 'after',
      in: 'query',
      schema: { type: 'integer' },
      description: 'Replay output after this sequence number.',
    },
  ]),
  listFiles: {
    summary: 'List a directory (depth, sizes, types, modification times)',
    parameters: [
      idParam,
      rootParam,
      pathParam,
      { name: 'depth', in: 'query', schema: { type: 'integer', default: 1 } },
      { name: 'limit', in: 'query', schema: { type: 'integer', default: 1000 } },
    ],
    responses: {
      200: json({
        type: 'object',
        properties: { items: { type: 'array', items: ref('FileInfo') }, truncated: { type: 'boolean' } },
      }),
      ...errors(...FILE_ERRORS),
    },
  },
  statFile: {
    summary: 'Describe one path (a final symlink is reported unless follow=true)',
    parameters: [
      idParam,
      rootParam,
      pathParam,
      { name: 'follow', in: 'query', schema: { type: 'boolean', default: false } },
    ],
    responses: { 200: json(ref('FileInfo')), ...errors(...FILE_ERRORS) },
  },
  readFile: {
    summary: 'Read a regular file (streamed)',
    parameters: [idParam, rootParam, pathParam],
    responses: {
      200: { description: 'The bytes', content: { 'application/octet-stream': {} } },
      ...errors(...FILE_ERRORS),
    },
  },
  writeFile: {
    summary: 'Write a file atomically from the raw body (Content-Type: application/octet-stream)',
    parameters: [
      idParam,
      rootParam,
      pathParam,
      { name: 'mode', in: 'query', schema: { type: 'string', default: '644' } },
      { name: 'parents', in: 'query', schema: { type: 'boolean', default: true } },
    ],
    requestBody: { required: true, content: { 'application/octet-stream': {} } },
    responses: { 200: json(ref('FileInfo')), ...errors(...FILE_ERRORS) },
  },
  makeDir: {
    summary: 'Create a directory',
    parameters: [idParam],
    requestBody: {
      required: true,
      ...json({
        type: 'object',
        properties: {
          root: { type: 'string' },
          path: { type: 'string' },
          mode: { type: 'integer' },
          parents: { type: 'boolean' },
        },
        required: ['path'],
      }),
    },
    responses: { 200: json(ref('FileInfo')), ...errors(...FILE_ERRORS) },
  },
  moveFile: {
    summary: 'Move or rename (never follows a final symlink)',
    parameters: [idParam],
    requestBody: {
      required: true,
      ...json({
        type: 'object',
        properties: {
          root: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          overwrite: { type: 'boolean' },
        },
        required: ['from', 'to'],
      }),
    },
    responses: { 200: json(ref('FileInfo')), ...errors(...FILE_ERRORS) },
  },
  removeFile: {
    summary: 'Remove a file, symlink or directory (recursive=true for contents)',
    parameters: [
      idParam,
      rootParam,
      pathParam,
      { name: 'recursive', in: 'query', schema: { type: 'boolean', default: false } },
    ],
    responses: { 204: { description: 'Removed' }, ...errors(...FILE_ERRORS) },
  },
  downloadArchive: {
    summary: 'Download a file or directory as a tar (regular files, directories and symlinks)',
    parameters: [idParam, rootParam, pathParam],
    responses: {
      200: { description: 'A tar stream', content: { 'application/x-tar': {} } },
      ...errors(...FILE_ERRORS),
    },
  },
  uploadArchive: {
    summary: 'Extract a tar (or gzip-compressed tar) under a directory; the whole archive is checked first',
    parameters: [idParam, rootParam, pathParam],
    requestBody: { required: true, content: { 'application/x-tar': {}, 'application/gzip': {} } },
    responses: { 200: json(ref('UploadSummary')), ...errors(...FILE_ERRORS, 'invalid_archive') },
  },
  logs: {
    summary: 'The workspace output as NDJSON lines (follow=true streams)',
    parameters: [
      idParam,
      { name: 'tail', in: 'query', schema: { type: 'integer' } },
      { name: 'follow', in: 'query', schema: { type: 'boolean', default: false } },
      { name: 'timestamps', in: 'query', schema: { type: 'boolean', default: false } },
      { name: 'since', in: 'query', schema: { type: 'integer' }, description: 'Unix seconds.' },
    ],
    responses: {
      200: {
        description: 'One LogLine per line',
        content: { 'application/x-ndjson': { schema: ref('LogLine') } },
      },
      ...errors('workspace_not_found', 'invalid_state'),
    },
  },
  createPreview: {
    summary: 'A short-lived browser URL for a declared port (the token becomes a cookie scoped to the port)',
    parameters: [idParam],
    requestBody: {
      required: true,
      ...json({
        type: 'object',
        properties: { port: { type: 'integer' }, ttlMs: { type: 'integer' } },
        required: ['port'],
      }),
    },
    responses: { 201: json(ref('Preview')), ...errors('port_not_declared', 'invalid_state') },
  },
  proxy: {
    summary: 'Reverse proxy (any method, and WebSocket upgrades) to a declared port of a running workspace',
    description:
      'Authenticated by the bearer token (stripped before forwarding) or a preview cookie. The workspace sees X-Forwarded-Prefix.',
    parameters: [idParam, { name: 'port', in: 'path', required: true, schema: { type: 'integer' } }],
    responses: {
      200: { description: 'Whatever the workspace answers' },
      ...errors('port_not_declared', 'invalid_state', 'engine_error'),
    },
  },
  agentRegister: {
    summary:
      "Agent contract: an agent registers with its workspace's agent token (file $BERTH_AGENT_TOKEN_FILE); a starting workspace becomes running. Also served on the agent socket ($BERTH_AGENT_SOCKET) inside agent workspaces.",
    security: [{ agentToken: [] }],
    requestBody: { required: false, ...json(ref('AgentRegister')) },
    responses: {
      200: json(ref('AgentAck')),
      ...errors('validation_failed', 'invalid_state'),
    },
  },
  agentHeartbeat: {
    summary:
      'Agent contract: a heartbeat with status, current task and error. Silence longer than agents.heartbeatTimeoutMs makes the workspace unresponsive; a stopped or deleted workspace ignores heartbeats (409).',
    security: [{ agentToken: [] }],
    requestBody: { required: false, ...json(ref('AgentHeartbeat')) },
    responses: {
      200: json(ref('AgentAck')),
      ...errors('validation_failed', 'invalid_state'),
    },
  },
  createToken: {
    summary: 'Create an API token (admin); the secret is shown once',
    requestBody: { required: true, ...json(ref('TokenCreate')) },
    responses: { 201: json(ref('CreatedApiToken')), ...errors('validation_failed', 'forbidden') },
  },
  listTokens: {
    summary: 'List API tokens (admin)',
    responses: { 200: json(list('ApiToken')), ...errors('forbidden') },
  },
  revokeToken: {
    summary: 'Revoke an API token (admin)',
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
    responses: { 204: { description: 'Revoked' }, ...errors('token_not_found', 'forbidden') },
  },
  listSecrets: {
    summary: 'Global secrets: names and metadata, never values (admin)',
    responses: { 200: json(list('SecretInfo')), ...errors('forbidden') },
  },
  putSecret: {
    summary: 'Create or replace a global secret (admin); the value is write-only',
    description: SECRET_PUT_DESCRIPTION,
    parameters: [secretNameParam],
    requestBody: { required: true, ...json(ref('SecretPut')) },
    responses: {
      201: { description: 'Created', ...json(ref('SecretInfo')) },
      200: { description: 'Replaced', ...json(ref('SecretInfo')) },
      ...errors(...SECRET_PUT_ERRORS, 'forbidden'),
    },
  },
  deleteSecret: {
    summary: 'Delete a global secret (admin)',
    parameters: [secretNameParam],
    responses: {
      204: { description: 'Deleted' },
      ...errors('secret_not_found', 'invalid_secret_name', 'forbidden'),
    },
  },
  rekeySecrets: {
    summary: 'Re-seal every secret with the active key, after a key rotation (admin)',
    description:
      'Put the new key first in the key file (or `BERTH_SECRETS_KEY`), keep the old one below it, restart, then call this; afterwards the old key can go. Opens every secret before writing any: if one does not open, nothing changes.',
    responses: { 200: json(ref('SecretRekeyResult')), ...errors('forbidden', 'secret_unreadable') },
  },
  listWorkspaceSecrets: {
    summary: "A workspace's own secrets: names and metadata, never values (its owner or an admin)",
    parameters: [idParam],
    responses: { 200: json(list('SecretInfo')), ...errors('workspace_not_found') },
  },
  putWorkspaceSecret: {
    summary:
      'Create or replace a secret of one workspace (its owner or an admin); it wins over a global secret of the same name there',
    description: SECRET_PUT_DESCRIPTION,
    parameters: [idParam, secretNameParam],
    requestBody: { required: true, ...json(ref('SecretPut')) },
    responses: {
      201: { description: 'Created', ...json(ref('SecretInfo')) },
      200: { description: 'Replaced', ...json(ref('SecretInfo')) },
      ...errors(...SECRET_PUT_ERRORS, 'workspace_not_found'),
    },
  },
  deleteWorkspaceSecret: {
    summary: 'Delete a secret of one workspace (its owner or an admin)',
    parameters: [idParam, secretNameParam],
    responses: {
      204: { description: 'Deleted' },
      ...errors('secret_not_found', 'invalid_secret_name', 'workspace_not_found'),
    },
  },
};

/** The OpenAPI 3.1 document, generated from the route table and the zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const add = (id: string, schema: z.ZodType, io: 'input' | 'output' = 'output') => {
    components[id] = z.toJSONSchema(schema, { io, unrepresentable: 'any', reused: 'inline' });
  };
  add('Error', ErrorBodySchema);
  add('Workspace', WorkspaceSchema);
  add('WorkspaceEvent', WorkspaceEventSchema);
  add('WorkspaceSpec', WorkspaceSpecSchema, 'input');
  add('EgressUpdate', EgressUpdateSchema, 'input');
  add('SystemInfo', SystemInfoSchema);
  add('RuntimeInfo', RuntimeInfoSchema);
  add('ImageInfo', ImageInfoSchema);
  add('WorkspaceStats', WorkspaceStatsSchema);
  add('ApiToken', ApiTokenSchema);
  add('CreatedApiToken', CreatedApiTokenSchema);
  add('TokenCreate', TokenCreateSchema, 'input');
  add('CommandInput', CommandInputSchema, 'input');
  add('ExecInput', ExecInputSchema, 'input');
  add('ExecResult', ExecResultSchema);
  add('CommandInfo', CommandInfoSchema);
  add('TerminalInfo', TerminalInfoSchema);
  add('FileInfo', FileInfoSchema);
  add('LogLine', LogLineSchema);
  add('Preview', PreviewSchema);
  add('UploadSummary', UploadSummarySchema);
  add('SecretInfo', SecretInfoSchema);
  add('SecretPut', SecretPutSchema, 'input');
  add('SecretRekeyResult', SecretRekeyResultSchema);
  add('AgentRegister', AgentRegisterSchema, 'input');
  add('AgentHeartbeat', AgentHeartbeatSchema, 'input');
  add('AgentAck', AgentAckSchema);
  for (const schema of Object.values(components) as Record<string, unknown>[]) {
    delete schema.$schema;
    delete schema.id;
  }

  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, route] of Object.entries(ROUTES) as [RouteName, (typeof ROUTES)[RouteName]][]) {
    const path = route.path.replace(/:([a-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: name,
      ...OPERATIONS[name],
      responses: { ...(OPERATIONS[name].responses as object), ...errors('unauthenticated', 'internal') },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Berth API',
      version: BERTH_VERSION,
      description:
        'Isolated, policy-governed container workspaces for AI agents. Errors are `{ code, message, requestId, details? }` with stable codes (docs/errors.md).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        agentToken: { type: 'http', scheme: 'bearer', description: "A workspace's agent token." },
      },
      schemas: components,
    },
    paths,
  };
}
