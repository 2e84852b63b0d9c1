import tar from 'tar-stream';
import type { ConfigFile } from '../domain/workspace.js';

/**
 * A tar of the files for /configs, owned by the workspace user. Parent directories come first
 * (0755); no links, devices or special bits can appear because the spec allows none.
 * The archive is extracted before the container's first start, never into a running workspace (E7).
 */
export async function configsArchive(
  files: Record<string, ConfigFile>,
  uid: number,
  gid: number,
): Promise<Buffer> {
  const pack = tar.pack();
  const dirs = new Set<string>();
  const mtime = new Date();
  for (const path of Object.keys(files).sort()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, uid, gid, mtime });
      }
    }
    const file = files[path] as ConfigFile;
    pack.entry(
      { name: path, mode: file.mode & 0o777, uid, gid, mtime },
      Buffer.from(file.contentBase64, 'base64'),
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
