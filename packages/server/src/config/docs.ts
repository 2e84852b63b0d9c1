import { z } from 'zod';
import { ConfigSchema, ENV_BINDINGS, RuntimeConfigSchema } from './schema.js';

interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: unknown;
}

/** The docs/configuration.md table, generated from the one config schema (checked by a test). */
export function configurationMarkdown(): string {
  const root = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const rows: string[] = [];
  const walk = (node: JsonSchemaNode, path: string[]): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const here = [...path, key];
      if (child.type === 'object' && child.properties && key !== 'resources') {
        walk(child, here);
        continue;
      }
      const env = ENV_BINDINGS.find((b) => b.path.join('.') === here.join('.'))?.env ?? '';
      const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
      const description = (child.description ?? '').replace(/\|/g, '\\|');
      rows.push(`| \`${here.join('.')}\` | ${env ? `\`${env}\`` : ''} | ${def} | ${description} |`);
    }
  };
  walk(root, []);
  const runtime = z.toJSONSchema(RuntimeConfigSchema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchemaNode;
  const runtimeRows = Object.entries(runtime.properties ?? {}).map(([key, child]) => {
    const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    return `| \`${key}\` | ${def} | ${(child.description ?? '').replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Configuration',
    '',
    'Generated from `packages/server/src/config/schema.ts` by `npm run docs`; a test fails when',
    'this file and the schema disagree. Precedence: defaults → config file → environment → command-line flags.',
    'The config file is YAML: `--config <file>`, `BERTH_CONFIG`, or `<dataDir>/berth.yaml` when it exists.',
    'Every problem is reported at start, all at once. `BERTH_ADMIN_TOKEN` sets the admin bearer token',
    '(it is never read from the file); `BERTH_SECRETS_KEY` likewise sets the secrets keys, instead of `secrets.keyFile`.',
    '',
    '| Key | Environment | Default | Description |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## Runtime entries (`runtimes.<name>`)',
    '',
    'A runtime name is a DNS label. Example:',
    '',
    '```yaml',
    'runtimes:',
    '  python:',
    '    description: Python 3.12 for data agents',
    '    image: python:3.12-slim',
    '    requiredFiles: [config.yaml]',
    '    command: [sleep, infinity]',
    '```',
    '',
    '| Field | Default | Description |',
    '|---|---|---|',
    ...runtimeRows,
    '',
  ].join('\n');
}
