import type { Berth, FileInfo, FileRoot } from '@berth/sdk';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ConfirmDialog, type ConfirmRequest } from '../components/confirm.js';
import { ErrorBox } from '../components/error-box.js';
import { bytes, time } from '../format.js';

const VIEW_LIMIT = 2 * 1024 * 1024;

const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);

function saveBlob(data: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

interface Viewed {
  path: string;
  text: string | null;
  size: number;
}

/** Browse /workspace and /configs: list, view text, upload, download (files, or directories as tar), delete. */
export function FilesPanel({ berth, id }: { berth: Berth; id: string }) {
  const files = useMemo(() => berth.workspaces.ref(id).files, [berth, id]);
  const [root, setRoot] = useState<FileRoot>('workspace');
  const [dir, setDir] = useState('');
  const [entries, setEntries] = useState<FileInfo[] | null>(null);
  const [viewed, setViewed] = useState<Viewed | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const list = await files.list(dir, { root });
      setEntries(
        [...list].sort(
          (a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name),
        ),
      );
    } catch (err) {
      setEntries([]);
      setError(err);
    }
  }, [files, root, dir]);

  useEffect(() => {
    void load();
  }, [load]);

  const run = async (what: string, fn: () => Promise<void>): Promise<void> => {
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const view = (entry: FileInfo): Promise<void> =>
    run(`Opening ${entry.name}`, async () => {
      if (entry.size > VIEW_LIMIT) {
        setViewed({ path: entry.path, text: null, size: entry.size });
        return;
      }
      const data = await files.read(entry.path, { root, format: 'bytes' });
      let text: string | null;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(data);
      } catch {
        text = null;
      }
      setViewed({ path: entry.path, text, size: data.byteLength });
    });

  const download = (entry: FileInfo): Promise<void> =>
    run(`Downloading ${entry.name}`, async () => {
      if (entry.type === 'dir') {
        saveBlob(
          await files.downloadArchive(entry.path, { root, format: 'bytes' }),
          `${entry.name}.tar`,
          'application/x-tar',
        );
      } else {
        saveBlob(
          await files.read(entry.path, { root, format: 'bytes' }),
          entry.name,
          'application/octet-stream',
        );
      }
    });

  const upload = (list: FileList): Promise<void> =>
    run('Uploading', async () => {
      const all = [...list];
      for (const [i, file] of all.entries()) {
        setBusy(`Uploading ${file.name} (${i + 1} of ${all.length}, ${bytes(file.size)})`);
        await files.write(join(dir, file.name), file, { root });
      }
      await load();
    });

  const remove = (entry: FileInfo): void =>
    setConfirm({
      title: `Delete ${entry.path}?`,
      body: entry.type === 'dir' ? 'The directory and everything in it are removed.' : 'The file is removed.',
      confirm: 'Delete',
      danger: true,
      run: () =>
        run(`Deleting ${entry.name}`, async () => {
          await files.remove(entry.path, { root, recursive: entry.type === 'dir' });
          if (viewed?.path === entry.path) setViewed(null);
          await load();
        }),
    });

  const crumbs = dir ? dir.split('/') : [];
  return (
    <div className="files">
      <div className="row between wrap">
        <h2>Files</h2>
        <div className="row wrap">
          <label className="inline">
            Root{' '}
            <select
              value={root}
              onChange={(e) => {
                setRoot(e.target.value as FileRoot);
                setDir('');
                setViewed(null);
              }}
            >
              <option value="workspace">/workspace</option>
              <option value="configs">/configs</option>
            </select>
          </label>
          <label className="button">
            Upload files
            <input
              type="file"
              multiple
              className="sr-only"
              aria-label="Upload files"
              onChange={(e) => {
                if (e.target.files?.length) void upload(e.target.files);
                e.target.value = '';
              }}
            />
          </label>
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </div>
      <nav aria-label="Folder" className="crumbs">
        <button type="button" className="link" onClick={() => setDir('')}>
          /{root}
        </button>
        {crumbs.map((part, i) => (
          <span key={crumbs.slice(0, i + 1).join('/')}>
            {' / '}
            <button
              type="button"
              className="link"
              onClick={() => setDir(crumbs.slice(0, i + 1).join('/'))}
              aria-current={i === crumbs.length - 1 ? 'location' : undefined}
            >
              {part}
            </button>
          </span>
        ))}
      </nav>
      {busy ? (
        <p role="status" className="progress">
          <span className="spinner" aria-hidden="true" /> {busy}…
        </p>
      ) : null}
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table className="file-list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col" className="wide">
                Modified
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {dir ? (
              <tr>
                <th scope="row" colSpan={4}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => setDir(crumbs.slice(0, -1).join('/'))}
                  >
                    .. (up)
                  </button>
                </th>
              </tr>
            ) : null}
            {(entries ?? []).map((entry) => (
              <tr key={entry.path} data-file={entry.name}>
                <th scope="row">
                  {entry.type === 'dir' ? (
                    <button type="button" className="link" onClick={() => setDir(entry.path)}>
                      {entry.name}/
                    </button>
                  ) : entry.type === 'file' ? (
                    <button type="button" className="link" onClick={() => void view(entry)}>
                      {entry.name}
                    </button>
                  ) : (
                    <span>
                      {entry.name} {entry.linkTarget ? `→ ${entry.linkTarget}` : `(${entry.type})`}
                    </span>
                  )}
                </th>
                <td className="nowrap">{entry.type === 'file' ? bytes(entry.size) : ''}</td>
                <td className="wide nowrap">{time(entry.modifiedAt)}</td>
                <td>
                  <div className="row actions">
                    {entry.type === 'file' || entry.type === 'dir' ? (
                      <button
                        type="button"
                        onClick={() => void download(entry)}
                        aria-label={`Download ${entry.name}`}
                      >
                        Download
                      </button>
                    ) : null}
                    <button
                      type="button"
                      className="danger-outline"
                      onClick={() => remove(entry)}
                      aria-label={`Delete ${entry.name}`}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries && entries.length === 0 && !error ? <p className="empty">This folder is empty.</p> : null}
      </div>
      {viewed ? (
        <section aria-labelledby="viewer-title" className="viewer">
          <div className="row between">
            <h3 id="viewer-title">{viewed.path}</h3>
            <button type="button" onClick={() => setViewed(null)}>
              Close
            </button>
          </div>
          {viewed.text === null ? (
            <p className="muted">
              {viewed.size > VIEW_LIMIT
                ? `Too large to show here (${bytes(viewed.size)}).`
                : 'A binary file.'}{' '}
              Download it instead.
            </p>
          ) : (
            <pre className="file-text" tabIndex={0} aria-label={`Content of ${viewed.path}`}>
              {viewed.text}
            </pre>
          )}
        </section>
      ) : null}
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </div>
  );
}
