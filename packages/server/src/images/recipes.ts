import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { AppError } from '../errors.js';
import { sha256Hex } from '../util/canonical-json.js';
import { BERTH_VERSION } from '../version.js';

/**
 * Berth's image recipes: one directory per image under `images/` (a Dockerfile and what it
 * copies), layered by `BASE_IMAGE`. `base` starts from Debian; every other recipe names its parent.
 * The table says how they stack; the Dockerfiles say what each layer holds.
 */
export interface Recipe {
  name: string;
  /** The recipe whose image this one is built FROM; null for `base` (built FROM Debian). */
  parent: string | null;
}

export const RECIPES: readonly Recipe[] = [
  { name: 'base', parent: null },
  { name: 'node', parent: 'base' },
  { name: 'python', parent: 'base' },
  { name: 'claude-code', parent: 'node' },
  { name: 'codex', parent: 'node' },
  { name: 'gemini', parent: 'node' },
  { name: 'openclaw', parent: 'node' },
  { name: 'langgraph', parent: 'python' },
  { name: 'crewai', parent: 'python' },
  { name: 'autogen', parent: 'python' },
  { name: 'openhands', parent: 'python' },
  { name: 'deepagents', parent: 'python' },
  { name: 'hermes', parent: 'python' },
];

/** The tag Berth gives a recipe's image (`images.repository` is the prefix). */
export const recipeTag = (name: string, repository = 'berth', version = BERTH_VERSION): string =>
  `${repository}-${name}:${version}`;

export function getRecipe(name: string): Recipe {
  const recipe = RECIPES.find((r) => r.name === name);
  if (!recipe) {
    throw new AppError(
      'validation_failed',
      `no image recipe "${name}"; recipes: ${RECIPES.map((r) => r.name).join(', ')}`,
    );
  }
  return recipe;
}

/** The recipe and its ancestors, base first: the order they are built in. */
export function recipeChain(name: string): Recipe[] {
  const chain: Recipe[] = [];
  for (let r: Recipe | null = getRecipe(name); r; r = r.parent ? getRecipe(r.parent) : null) {
    chain.unshift(r);
  }
  return chain;
}

/**
 * The `images/` directory: `BERTH_IMAGES_DIR`, else the one next to Berth's packages (the
 * repository root, or the installed package when images/ ships with it).
 */
export function findRecipesDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.BERTH_IMAGES_DIR)
    return existsSync(join(env.BERTH_IMAGES_DIR, 'base')) ? env.BERTH_IMAGES_DIR : null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'images');
    if (existsSync(join(candidate, 'base', 'Dockerfile'))) return candidate;
    dir = resolve(dir, '..');
  }
  return null;
}

/** A build context: the recipe directory's files plus any extra (path → bytes). */
export interface BuildContext {
  files: Map<string, { content: Buffer; mode: number }>;
}

export function readRecipe(recipesDir: string, name: string): BuildContext {
  const root = join(recipesDir, name);
  if (!existsSync(join(root, 'Dockerfile'))) {
    throw new AppError(
      'image_build_failed',
      `the recipe of image "${name}" is missing: ${root}/Dockerfile does not exist (set images.recipesDir or BERTH_IMAGES_DIR to Berth's images/ directory)`,
    );
  }
  const files = new Map<string, { content: Buffer; mode: number }>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const abs = join(dir, entry);
      const st = statSync(abs);
      if (st.isDirectory()) walk(abs);
      else if (st.isFile())
        files.set(relative(root, abs), { content: readFileSync(abs), mode: st.mode & 0o755 });
    }
  };
  walk(root);
  return { files };
}

/** The ARG names a Dockerfile declares, so Berth passes only those (the builder warns of others). */
export function declaredArgs(dockerfile: string): Set<string> {
  const names = new Set<string>();
  for (const line of dockerfile.split('\n')) {
    const m = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

/**
 * What identifies a recipe's image: its files, the build args Berth passes (but the parent's
 * image id) and its parent's hash, so a change anywhere below rebuilds everything above.
 */
export function recipeHash(context: BuildContext, args: Record<string, string>, parentHash: string): string {
  const parts: string[] = [`parent:${parentHash}`];
  for (const [path, { content, mode }] of [...context.files].sort(([a], [b]) => a.localeCompare(b))) {
    parts.push(`file:${path}:${mode.toString(8)}:${sha256Hex(content)}`);
  }
  for (const key of Object.keys(args).sort()) {
    if (key !== 'BASE_IMAGE') parts.push(`arg:${key}=${args[key]}`);
  }
  return sha256Hex(parts.join('\n')).slice(0, 16);
}

export function contextTar(context: BuildContext): Readable {
  const pack = tar.pack();
  for (const [name, { content, mode }] of context.files) {
    pack.entry({ name, mode, mtime: new Date(0) }, content);
  }
  pack.finalize();
  return Readable.from(pack);
}
