import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { Berth, PtyHandle } from '@berth/sdk';
import { useEffect, useRef, useState } from 'react';
import { ErrorBox } from '../components/error-box.js';

type TermState = 'connecting' | 'open' | 'exited';

/**
 * The terminal takes Tab (shells complete with it) and nearly every other key, so keyboard users
 * leave it with Ctrl+] (telnet's escape key, which shells and agents rarely use): focus moves to
 * the "New terminal" button, from where Tab and Shift+Tab go on through the page.
 */
function isLeaveKey(
  e: Pick<KeyboardEvent, 'type' | 'key' | 'code' | 'ctrlKey' | 'altKey' | 'metaKey'>,
): boolean {
  return (
    e.type === 'keydown' &&
    e.ctrlKey &&
    !e.altKey &&
    !e.metaKey &&
    (e.key === ']' || e.code === 'BracketRight')
  );
}

/**
 * An interactive shell: xterm.js over the PTY WebSocket (`…/terminals/stream`, the token as the
 * `berth.bearer.` subprotocol). It follows the size of its box, so it resizes with the window.
 * Leaving the page kills the shell.
 */
export function TerminalPanel({
  berth,
  id,
  running,
  visible,
}: {
  berth: Berth;
  id: string;
  running: boolean;
  visible: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const exit = useRef<HTMLButtonElement>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const [session, setSession] = useState(0);
  const [state, setState] = useState<TermState>('connecting');
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || !running) return;
    const abort = new AbortController();
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#111827', foreground: '#f3f4f6', cursor: '#f3f4f6' },
    });
    const fit = new FitAddon();
    fitRef.current = fit;
    term.loadAddon(fit);
    term.open(el);
    term.textarea?.setAttribute('aria-describedby', 'terminal-keys');
    term.attachCustomKeyEventHandler((e) => {
      if (!isLeaveKey(e)) return true;
      e.preventDefault();
      exit.current?.focus();
      return false;
    });
    const refit = (): void => {
      if (el.offsetWidth > 0 && el.offsetHeight > 0) fit.fit();
    };
    refit();
    setState('connecting');
    setError(null);
    let pty: PtyHandle | undefined;
    const disposers = [
      term.onData((data) => void pty?.sendInput(data).catch(() => undefined)),
      term.onResize(({ cols, rows }) => void pty?.resize(cols, rows)),
    ];
    const observer = new ResizeObserver(refit);
    observer.observe(el);
    berth.workspaces
      .ref(id)
      .pty.create({
        cols: term.cols,
        rows: term.rows,
        signal: abort.signal,
        onData: (bytes) => term.write(bytes),
      })
      .then((handle) => {
        pty = handle;
        setState('open');
        term.focus();
        // The box may have changed size while the terminal started.
        if (handle.info.cols !== term.cols || handle.info.rows !== term.rows)
          void handle.resize(term.cols, term.rows);
        return handle.wait();
      })
      .then(({ exitCode }) => {
        term.write(`\r\n[the shell exited with code ${exitCode}]\r\n`);
        setState('exited');
      })
      .catch((err: unknown) => {
        if (abort.signal.aborted) return;
        setError(err);
        setState('exited');
      });
    return () => {
      abort.abort();
      observer.disconnect();
      for (const d of disposers) d.dispose();
      fitRef.current = null;
      term.dispose();
    };
  }, [berth, id, running, session]);

  // A hidden tab has no size: fit again when it is shown.
  useEffect(() => {
    if (visible) requestAnimationFrame(() => fitRef.current?.fit());
  }, [visible]);

  return (
    <div className="terminal-panel">
      <div className="row between wrap">
        <h2>Terminal</h2>
        <div className="row">
          <span className="muted" role="status">
            {!running
              ? 'The workspace is not running'
              : state === 'open'
                ? 'Connected'
                : state === 'exited'
                  ? 'Ended'
                  : 'Connecting…'}
          </span>
          <button ref={exit} type="button" disabled={!running} onClick={() => setSession((s) => s + 1)}>
            New terminal
          </button>
        </div>
      </div>
      {running ? (
        <p id="terminal-keys" className="hint">
          The terminal keeps Tab and most keys for the shell. Press <kbd>Ctrl</kbd>+<kbd>]</kbd> to move focus
          out of it.
        </p>
      ) : null}
      <ErrorBox error={error} />
      {running ? (
        <div ref={box} className="terminal" role="region" aria-label="Terminal" />
      ) : (
        <p className="empty">Start the workspace to open a terminal.</p>
      )}
    </div>
  );
}
