import type { WebSocket } from 'ws';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { parseWith } from '../../workspaces/validate.js';

/** Sends and resolves once the frame was handed to the socket: backpressure for streams. */
export function sendAsync(socket: WebSocket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.readyState !== socket.OPEN) {
      reject(new Error('socket closed'));
      return;
    }
    socket.send(data, (err) => (err ? reject(err) : resolve()));
  });
}

export function sendJson(socket: WebSocket, message: Record<string, unknown>): Promise<void> {
  return sendAsync(socket, JSON.stringify(message)).catch(() => {});
}

/** Tells the client why, then closes: 1008 for refused input, 1011 for server trouble. */
export async function closeWithError(socket: WebSocket, err: unknown): Promise<void> {
  const appError = err instanceof AppError ? err : null;
  await sendJson(socket, {
    type: 'error',
    code: appError?.code ?? 'internal',
    message: appError && appError.code !== 'internal' ? appError.message : 'internal error',
  });
  socket.close(appError && appError.status < 500 ? 1008 : 1011, appError?.code ?? 'internal');
}

/**
 * A control message from the client, checked against `schema`. A bad one is answered with an
 * `{type:'error'}` message (the stream stays open) and gives undefined.
 */
export function parseControl<S extends z.ZodType>(
  socket: WebSocket,
  schema: S,
  data: Buffer,
): z.infer<S> | undefined {
  try {
    return parseWith(schema, JSON.parse(data.toString('utf8')), 'message');
  } catch (err) {
    void sendJson(socket, {
      type: 'error',
      code: err instanceof AppError ? err.code : 'invalid_json',
      message: err instanceof Error ? err.message : 'bad message',
    });
    return undefined;
  }
}

/** The first text message, parsed as JSON, within `timeoutMs`. */
export function firstMessage(socket: WebSocket, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new AppError('validation_failed', `send a start message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (data: Buffer, isBinary: boolean) => {
      cleanup();
      if (isBinary) {
        reject(new AppError('validation_failed', 'the first message must be a JSON start message'));
        return;
      }
      try {
        resolve(JSON.parse(data.toString('utf8')));
      } catch {
        reject(new AppError('invalid_json', 'the start message is not JSON'));
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error('closed before starting'));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
    };
    socket.on('message', onMessage);
    socket.on('close', onClose);
  });
}

/** Stream byte that prefixes server→client output frames of commands. */
export const STREAM_BYTE = { stdout: 1, stderr: 2 } as const;
