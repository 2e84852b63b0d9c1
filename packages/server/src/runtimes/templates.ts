import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import type { ConfigFile } from '../domain/workspace.js';

export const TEMPLATE_LIMITS = { maxFiles: 256, maxBytes: 4 * 1024 * 1024, maxDepth: 8 };

/**
 * Reads a config template directory `<templatesDir>/<name>` into memory: regular files and
 * directories only (a symlink, device or socket makes the template invalid), within size caps.
 * The contents are snapshotted into the workspace spec, so later edits of the template do not
 * silently change existing workspaces.
 */
export function readTemplate(templatesDir: string, name: string): Record<string, ConfigFile> {
  const root = join(templatesDir, name);
  let rootStat;
  try {
    rootStat = lstatSync(root);
  } catch {
    throw new AppError(
      'template_not_found',
      `no config template "${name}": create the directory ${root} with the files to copy into /configs`,
    );
  }
  if (!rootStat.isDirectory()) {
    throw new AppError('template_not_found', `config template "${name}" at ${root} is not a directory`);
  }
  const files: Record<string, ConfigFile> = {};
  let total = 0;
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > TEMPLATE_LIMITS.maxDepth)
      throw invalid(name, `nested deeper than ${TEMPLATE_LIMITS.maxDepth} levels`);
    for (const entry of readdirSync(dir).sort()) {
      const abs = join(dir, entry);
      const relPath = rel ? `${rel}/${entry}` : entry;
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(abs, relPath, depth + 1);
      else if (st.isFile()) {
        total += st.size;
        if (total > TEMPLATE_LIMITS.maxBytes)
          throw invalid(name, `larger than ${TEMPLATE_LIMITS.maxBytes} bytes`);
        if (Object.keys(files).length >= TEMPLATE_LIMITS.maxFiles) {
          throw invalid(name, `more than ${TEMPLATE_LIMITS.maxFiles} files`);
        }
        files[relPath] = { contentBase64: readFileSync(abs).toString('base64'), mode: st.mode & 0o755 };
      } else {
        throw invalid(name, `${relPath} is not a regular file or directory (symlinks are not followed)`);
      }
    }
  };
  walk(root, '', 0);
  return files;
}

const invalid = (name: string, why: string): AppError =>
  new AppError('validation_failed', `config template "${name}" is invalid: ${why}`);
