import { AuthenticationError, type Berth } from '@berth/sdk';
import { useEffect, useState } from 'react';
import { Link } from './components/link.js';
import { useLiveWorkspaces } from './live.js';
import { CreateWorkspace } from './pages/create.js';
import { ImagesPage } from './pages/images.js';
import { WorkspaceList } from './pages/list.js';
import { SecretsPage } from './pages/secrets.js';
import { SignIn } from './pages/sign-in.js';
import { WorkspacePage } from './pages/workspace.js';
import { parseRoute, usePath } from './router.js';
import { clientFor, forgetToken, storedToken } from './session.js';

function Shell({ berth, onSignOut }: { berth: Berth; onSignOut: () => void }) {
  const route = parseRoute(usePath());
  const live = useLiveWorkspaces(berth);
  // A token revoked (or a server reset) while signed in: back to the sign-in page.
  useEffect(() => {
    if (live.error instanceof AuthenticationError) onSignOut();
  }, [live.error, onSignOut]);
  useEffect(() => {
    document.title =
      route.page === 'workspace'
        ? `${route.id} · Berth`
        : route.page === 'new'
          ? 'New workspace · Berth'
          : route.page === 'images'
            ? 'Images · Berth'
            : route.page === 'secrets'
              ? 'Secrets · Berth'
              : 'Berth';
  }, [route]);
  return (
    <>
      <a href="#content" className="skip">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          Berth
        </Link>
        <nav aria-label="Main">
          <Link href="/" aria-current={route.page === 'list' ? 'page' : undefined}>
            Workspaces
          </Link>
          <Link href="/new" aria-current={route.page === 'new' ? 'page' : undefined}>
            New workspace
          </Link>
          <Link href="/images" aria-current={route.page === 'images' ? 'page' : undefined}>
            Images
          </Link>
          <Link href="/secrets" aria-current={route.page === 'secrets' ? 'page' : undefined}>
            Secrets
          </Link>
        </nav>
        <span
          className={`stream stream-${live.stream}`}
          role="status"
          title="Live updates from the event stream"
        >
          {live.stream === 'live' ? 'Live' : live.stream === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <div id="content" tabIndex={-1}>
        {route.page === 'list' ? <WorkspaceList berth={berth} live={live} /> : null}
        {route.page === 'new' ? <CreateWorkspace berth={berth} /> : null}
        {route.page === 'images' ? <ImagesPage berth={berth} /> : null}
        {route.page === 'secrets' ? <SecretsPage berth={berth} /> : null}
        {route.page === 'workspace' ? (
          <WorkspacePage key={route.id} berth={berth} live={live} id={route.id} tab={route.tab} />
        ) : null}
        {route.page === 'missing' ? (
          <main>
            <h1>Not found</h1>
            <p>
              <Link href="/">Back to the workspaces</Link>
            </p>
          </main>
        ) : null}
      </div>
    </>
  );
}

export function App() {
  const [berth, setBerth] = useState<Berth | null>(() => {
    const token = storedToken();
    return token ? clientFor(token) : null;
  });
  if (!berth) return <SignIn onSignedIn={setBerth} />;
  return (
    <Shell
      key={berth.url}
      berth={berth}
      onSignOut={() => {
        forgetToken();
        setBerth(null);
      }}
    />
  );
}
