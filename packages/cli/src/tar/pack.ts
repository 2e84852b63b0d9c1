import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';

export interface PackOptions {
  /**
   * Name of the top entry in the archive (e.g. the directory's basename); `''` puts the
   * directory's contents at the top (`berth cp dir/. ws:dest`).
   */
  name: string;
  /** Called for what is left out (devices, FIFOs, sockets). */
  onSkip?: (path: string, why: string) => void;
}

/**
 * A tar of a local file or directory, produced as it is read: regular files, directories and
 * symlinks (as links, never followed), with permission bits and modification times. Ownership is
 * not recorded (files belong to the workspace user).
 */
export function packPath(localPath: string, options: PackOptions): ReadableStream<Uint8Array> {
  const pack = tar.pack();
  const run = async (): Promise<void> => {
    await addPath(pack, localPath, options.name, options, true);
    pack.finalize();
  };
  run().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  return ReadableStream.from(pack as AsyncIterable<Uint8Array>);
}

async function addPath(
  pack: tar.Pack,
  path: string,
  name: string,
  options: PackOptions,
  top = false,
): Promise<void> {
  // The path given is followed when it is a symlink (as `cp`); links below it are kept as links.
  const st = top ? await stat(path) : await lstat(path);
  const mode = st.mode & 0o777;
  if (st.isDirectory()) {
    if (name !== '') await addEntry(pack, { name: `${name}/`, type: 'directory', mode, mtime: st.mtime });
    const children = (await readdir(path)).sort();
    for (const child of children) {
      await addPath(pack, join(path, child), name === '' ? child : `${name}/${child}`, options);
    }
    return;
  }
  if (name === '') throw new Error(`${path} is not a directory`);
  if (st.isSymbolicLink()) {
    const linkname = await readlink(path);
    await addEntry(pack, { name, type: 'symlink', linkname, mode: 0o777, mtime: st.mtime });
    return;
  }
  if (!st.isFile()) {
    options.onSkip?.(path, 'not a regular file, directory or symlink');
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ name, type: 'file', size: st.size, mode, mtime: st.mtime }, (err) =>
      err ? reject(err) : resolve(),
    );
    (async () => {
      for await (const chunk of createReadStream(path)) {
        if (!entry.write(chunk as Buffer)) await new Promise<void>((r) => entry.once('drain', () => r()));
      }
      entry.end(undefined);
    })().catch((err: unknown) => {
      entry.destroy(err instanceof Error ? err : new Error(String(err)));
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

function addEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}
