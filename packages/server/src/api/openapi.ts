import { ERROR_CODES, ROUTES, type RouteName } from '@berth/protocol';
import { z } from 'zod';
import { BERTH_VERSION } from '../version.js';
import { WorkspaceSpecSchema } from '../workspaces/spec.js';
import {
  ApiTokenSchema,
  CreatedApiTokenSchema,
  ErrorBodySchema,
  HealthSchema,
  ImageInfoSchema,
  RuntimeInfoSchema,
  SystemInfoSchema,
  TokenCreateSchema,
  WorkspaceEventSchema,
  WorkspaceSchema,
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
    summary: 'Each runtime’s image and whether it is present',
    responses: { 200: json(list('ImageInfo')) },
  },
  buildImage: {
    summary: 'Build a runtime’s image (Berth’s own recipes only)',
    parameters: [{ name: 'runtime', in: 'path', required: true, schema: { type: 'string' } }],
    responses: {
      200: json(ref('ImageInfo')),
      ...errors('runtime_not_found', 'validation_failed', 'image_build_failed'),
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
  deleteWorkspace: {
    summary: 'Delete a workspace with its container, networks and volumes (idempotent)',
    parameters: [idParam, wait],
    responses: {
      204: { description: 'Deleted, or already gone' },
      202: { description: 'Deletion under way (wait=false)', ...json(ref('Workspace')) },
      ...errors('engine_unavailable', 'engine_error'),
    },
  },
  listWorkspaceEvents: {
    summary: 'Status history and events of a workspace',
    parameters: [
      idParam,
      { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
    ],
    responses: { 200: json(page('WorkspaceEvent')), ...errors('workspace_not_found') },
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
  add('SystemInfo', SystemInfoSchema);
  add('RuntimeInfo', RuntimeInfoSchema);
  add('ImageInfo', ImageInfoSchema);
  add('ApiToken', ApiTokenSchema);
  add('CreatedApiToken', CreatedApiTokenSchema);
  add('TokenCreate', TokenCreateSchema, 'input');
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
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: components },
    paths,
  };
}
