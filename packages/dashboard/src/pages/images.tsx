import type { Berth, ImageInfo } from '@berth/sdk';
import { useCallback, useEffect, useState } from 'react';
import { ErrorBox } from '../components/error-box.js';
import { ProgressView } from '../components/status.js';
import { bytes } from '../format.js';

/** While a build or pull is under way the list is read this often (its progress is in it). */
const BUSY_POLL_MS = 500;
const IDLE_POLL_MS = 10_000;

/**
 * Each runtime's image (`GET /v1/images`): present or not, its size, and the progress of a build
 * or pull under way, also one a workspace create started. Build (`POST /v1/images/{runtime}/build`,
 * admin tokens) makes Berth's own images now; the others are pulled when a workspace needs them.
 */
export function ImagesPage({ berth }: { berth: Berth }) {
  const [items, setItems] = useState<ImageInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [building, setBuilding] = useState<string | null>(null);
  const [done, setDone] = useState('');

  const load = useCallback(async (): Promise<void> => {
    try {
      setItems(await berth.images.list());
    } catch (err) {
      setError(err);
    }
  }, [berth]);

  const busy = building !== null || (items ?? []).some((i) => i.progress !== null);
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), busy ? BUSY_POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(timer);
  }, [load, busy]);

  const build = (image: ImageInfo): void => {
    setBuilding(image.runtime);
    setDone('');
    setError(null);
    berth.images
      // Followed through the list rather than one long request (builds can take minutes); the
      // page's own polling shows the progress.
      .build(image.runtime, { onProgress: () => {} })
      .then((built) =>
        setDone(
          `Built ${built.image} for runtime ${built.runtime}${built.sizeBytes === null ? '' : ` (${bytes(built.sizeBytes)})`}.`,
        ),
      )
      .catch((err: unknown) => setError(err))
      .finally(() => {
        setBuilding(null);
        void load();
      });
  };

  return (
    <main>
      <h1>Images</h1>
      <p className="muted">
        The image of each runtime. Berth builds its own images (source <em>build</em>) from its recipes, from
        the Debian base up, offline when no registry answers; the others are pulled. Progress shows here and
        on the workspace. Building and pulling need an admin token.
      </p>
      <ErrorBox error={error} />
      <p role="status" className="done">
        {done}
      </p>
      <div className="table-wrap">
        <table className="images">
          <caption className="sr-only">Runtime images</caption>
          <thead>
            <tr>
              <th scope="col">Runtime</th>
              <th scope="col">Image</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col" className="wide">
                Source
              </th>
              <th scope="col" className="wide">
                Id
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(items ?? []).map((image) => {
              const progress =
                image.progress ??
                (building === image.runtime ? { phase: 'image' as const, message: 'building' } : null);
              return (
                <tr key={image.runtime} data-runtime={image.runtime}>
                  <th scope="row">{image.runtime}</th>
                  <td>
                    <code>{image.image}</code>
                  </td>
                  <td>
                    {progress ? (
                      <ProgressView progress={progress} />
                    ) : (
                      <span
                        className={`badge${image.present ? ' status-running' : ''}`}
                        data-present={image.present}
                      >
                        {image.present ? 'present' : 'missing'}
                      </span>
                    )}
                  </td>
                  <td className="nowrap">{image.sizeBytes === null ? '—' : bytes(image.sizeBytes)}</td>
                  <td className="wide">{image.source}</td>
                  <td className="wide small">
                    <code>{image.id ? image.id.replace(/^sha256:/, '').slice(0, 12) : '—'}</code>
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={building !== null || image.progress !== null}
                      aria-label={`${verb(image, building === image.runtime)} ${image.runtime}`}
                      onClick={() => build(image)}
                    >
                      {verb(image, building === image.runtime)}
                    </button>
                    {image.upToDate === false && <span className="muted small"> recipe changed</span>}
                    {image.lastError && !image.progress ? (
                      <span className="muted small" title={image.lastError.message}>
                        {' '}
                        last build failed: {image.lastError.code}
                      </span>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {items === null && !error ? <p className="empty">Loading…</p> : null}
      </div>
    </main>
  );
}

/** The button's word: build or pull, and -ing while it runs. */
function verb(image: ImageInfo, running: boolean): string {
  if (image.source === 'build') return running ? 'Building…' : 'Build';
  return running ? 'Pulling…' : 'Pull';
}
