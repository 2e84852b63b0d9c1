import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ADMIN_TOKEN_FILE, DEFAULT_URL, defaultDataDir } from '@berth/protocol';
import { Berth } from '@berth/sdk';
import type { Command } from 'commander';
import { errorDocument, renderError } from './errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/** Where output goes: `process.stdout`/`process.stderr`, or a collector in tests. */
export interface TextOutput {
  /** Text, or raw bytes (command output, file contents). `false` asks the writer to wait for `drain`. */
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  once?(event: 'drain', listener: () => void): unknown;
}

/** Where input comes from: `process.stdin`, or a stream in tests. */
export type CliInput = Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };

export interface RunCliOptions {
  stdout?: TextOutput;
  stderr?: TextOutput;
  /** Input for `exec` (forwarded when not a TTY), `shell` (a TTY) and `files put -`; default `process.stdin`. */
  stdin?: CliInput;
  /** Environment for BERTH_URL, BERTH_TOKEN, BERTH_DATA_DIR and `-e KEY`; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Working directory for relative paths (--env-file, --file @x, --workspace-dir); default `process.cwd()`. */
  cwd?: string;
  /** Home directory for the default data dir; default `os.homedir()`. */
  homedir?: string;
  /** `fetch` for the SDK; default the global one. */
  fetch?: typeof fetch;
  /** Aborting it stops a running `berth serve` (as SIGINT does). */
  signal?: AbortSignal;
  /** Clock for ages in tables. */
  now?: () => Date;
}

/** The global options every command shares. */
export interface GlobalOptions {
  url?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

/** What a command gets: resolved settings, a lazily built SDK client and output helpers. */
export class CliContext {
  readonly stdout: TextOutput;
  readonly stderr: TextOutput;
  readonly #stdin: CliInput | undefined;
  readonly env: Record<string, string | undefined>;
  readonly cwd: string;
  readonly signal: AbortSignal | undefined;
  readonly now: () => Date;
  /** Set by commands that report some failures themselves (e.g. `rm a b` where only b fails). */
  exitCode: number = EXIT.ok;
  readonly #options: RunCliOptions;
  #program: Command | undefined;
  #client: Berth | undefined;

  constructor(options: RunCliOptions = {}) {
    this.#options = options;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.#stdin = options.stdin;
    this.env = options.env ?? process.env;
    this.cwd = options.cwd ?? process.cwd();
    this.signal = options.signal;
    this.now = options.now ?? (() => new Date());
  }

  /** The input stream, `process.stdin` unless given (touched only by commands that read it). */
  get stdin(): CliInput {
    return this.#stdin ?? process.stdin;
  }

  /** Writes bytes or text, waiting for `drain` when the output asks for it (pipes). */
  async write(output: TextOutput, chunk: string | Uint8Array): Promise<void> {
    const ok = output.write(chunk);
    if (ok === false && typeof output.once === 'function') {
      await new Promise<void>((resolve) => output.once?.('drain', resolve));
    }
  }

  attach(program: Command): void {
    this.#program = program;
  }

  get globals(): GlobalOptions {
    return this.#program?.opts<GlobalOptions>() ?? {};
  }

  get json(): boolean {
    return this.globals.json === true;
  }

  get url(): string {
    return this.globals.url ?? nonEmpty(this.env.BERTH_URL) ?? DEFAULT_URL;
  }

  get dataDir(): string {
    return this.globals.dataDir ?? defaultDataDir(this.env, this.#options.homedir ?? homedir());
  }

  /** --token, else $BERTH_TOKEN, else `<data-dir>/admin-token` when it exists and is readable. */
  resolveToken(): string | undefined {
    const explicit = this.globals.token ?? nonEmpty(this.env.BERTH_TOKEN);
    if (explicit !== undefined) return explicit;
    try {
      return nonEmpty(readFileSync(join(this.dataDir, ADMIN_TOKEN_FILE), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** The SDK client, built on first use so `--help` and `serve` never read the token file. */
  client(): Berth {
    this.#client ??= new Berth({
      url: this.url,
      // null: do not let the SDK fall back to process.env; the CLI's env is `this.env`.
      token: this.resolveToken() ?? null,
      ...(this.#options.fetch ? { fetch: this.#options.fetch } : {}),
    });
    return this.#client;
  }

  /** A line (or block) on stdout. */
  out(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line (or block) on stderr: progress, notes, errors. */
  note(text: string): void {
    this.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Exactly one JSON document on stdout. */
  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** The command's result: `value` as JSON with --json, else the human rendering (if any). */
  result(value: unknown, human: () => string | undefined): void {
    if (this.json) {
      this.printJson(value);
      return;
    }
    const text = human();
    if (text !== undefined && text !== '') this.out(text);
  }

  /**
   * Reports an error (JSON document with --json, human text on stderr always) and sets the exit code
   * (the first failure's code wins). `subject` names what failed when a command acts on several things.
   */
  fail(err: unknown, options: { subject?: string } = {}): void {
    const code = exitCodeFor(err);
    if (this.exitCode === EXIT.ok) this.exitCode = code === EXIT.ok ? EXIT.generic : code;
    if (this.json) this.printJson(errorDocument(err));
    this.note(renderError(err, { dataDir: this.dataDir, subject: options.subject }));
    if (nonEmpty(this.env.BERTH_DEBUG) !== undefined && err instanceof Error && err.stack) {
      this.note(err.stack);
    }
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
