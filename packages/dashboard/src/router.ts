import { useSyncExternalStore } from 'react';

/** A tiny history router: the server answers every app path with index.html. */
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export type Route =
  | { page: 'list' }
  | { page: 'new' }
  | { page: 'images' }
  | { page: 'secrets' }
  | { page: 'workspace'; id: string; tab: string | undefined }
  | { page: 'missing' };

export function parseRoute(path: string): Route {
  if (path === '/' || path === '/workspaces') return { page: 'list' };
  if (path === '/new') return { page: 'new' };
  if (path === '/images') return { page: 'images' };
  if (path === '/secrets') return { page: 'secrets' };
  const match = /^\/workspaces\/([^/]+)(?:\/([a-z]+))?\/?$/.exec(path);
  if (match?.[1]) return { page: 'workspace', id: decodeURIComponent(match[1]), tab: match[2] };
  return { page: 'missing' };
}

export function workspacePath(id: string, tab?: string): string {
  return `/workspaces/${encodeURIComponent(id)}${tab ? `/${tab}` : ''}`;
}
