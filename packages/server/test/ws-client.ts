import WebSocket from 'ws';
import type { TestBerth } from './harness.js';

export interface StreamMessage {
  type: string;
  [key: string]: unknown;
}

/** A WebSocket to Berth that records everything it receives, for assertions. */
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  readonly frames: { stream: 'stdout' | 'stderr' | 'raw'; data: Buffer }[] = [];
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly socket: WebSocket,
    prefixed: boolean,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (prefixed)
          this.frames.push({ stream: data[0] === 2 ? 'stderr' : 'stdout', data: data.subarray(1) });
        else this.frames.push({ stream: 'raw', data });
      } else {
        this.messages.push(JSON.parse(data.toString('utf8')) as StreamMessage);
      }
      this.wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  /** Opens `path` with the token as a subprotocol, as browsers must. */
  static async open(
    berth: TestBerth,
    path: string,
    options: { prefixed?: boolean; token?: string } = {},
  ): Promise<StreamClient> {
    const token = Buffer.from(options.token ?? berth.token).toString('base64url');
    const socket = new WebSocket(`${berth.url.replace(/^http/, 'ws')}${path}`, [
      'berth.v1',
      `berth.bearer.${token}`,
    ]);
    const client = new StreamClient(socket, options.prefixed ?? true);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `check` holds (10 s at most by default). */
  async until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.closeCode !== null && !check())
        throw new Error(`socket closed (${this.closeCode}) before ${what}: ${JSON.stringify(this.messages)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; messages: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  message(type: string): StreamMessage | undefined {
    return this.messages.find((m) => m.type === type);
  }

  async waitFor(type: string, timeoutMs = 10_000): Promise<StreamMessage> {
    await this.until(() => this.message(type) !== undefined, timeoutMs, `a "${type}" message`);
    return this.message(type)!;
  }

  text(stream: 'stdout' | 'stderr' | 'raw' = 'stdout'): string {
    return Buffer.concat(this.frames.filter((f) => f.stream === stream).map((f) => f.data)).toString('utf8');
  }

  send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  sendBytes(data: Buffer | string): void {
    this.socket.send(Buffer.from(data), { binary: true });
  }

  close(): void {
    this.socket.close();
  }
}
