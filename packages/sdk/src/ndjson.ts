import { readChunks } from './chunks.js';
import { BerthError } from './errors.js';

/**
 * An incremental NDJSON parser: feed it byte chunks as they arrive, get every complete document.
 * Lines may be split anywhere, also inside a multi-byte character; blank lines are skipped.
 */
export class NdjsonParser<T = unknown> {
  readonly #decoder = new TextDecoder('utf-8');
  #pending = '';

  /** The documents completed by this chunk. Throws `invalid_response` on a line that is not JSON. */
  push(chunk: Uint8Array): T[] {
    this.#pending += this.#decoder.decode(chunk, { stream: true });
    return this.#drain(false);
  }

  /** The last document when the stream ended without a final newline. */
  end(): T[] {
    this.#pending += this.#decoder.decode();
    return this.#drain(true);
  }

  #drain(final: boolean): T[] {
    const out: T[] = [];
    let newline: number;
    while ((newline = this.#pending.indexOf('\n')) >= 0) {
      const line = this.#pending.slice(0, newline);
      this.#pending = this.#pending.slice(newline + 1);
      const doc = parseLine<T>(line);
      if (doc !== undefined) out.push(doc.value);
    }
    if (final) {
      const doc = parseLine<T>(this.#pending);
      this.#pending = '';
      if (doc !== undefined) out.push(doc.value);
    }
    return out;
  }
}

function parseLine<T>(line: string): { value: T } | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return undefined;
  try {
    return { value: JSON.parse(text) as T };
  } catch (err) {
    throw new BerthError({
      code: 'invalid_response',
      message: `the server sent a line that is not JSON: ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`,
      cause: err,
    });
  }
}

/** The documents of an NDJSON byte stream, as they arrive. Cancels the stream when the loop stops early. */
export async function* readNdjson<T = unknown>(body: ReadableStream<Uint8Array>): AsyncGenerator<T> {
  const parser = new NdjsonParser<T>();
  for await (const chunk of readChunks(body)) yield* parser.push(chunk);
  yield* parser.end();
}
