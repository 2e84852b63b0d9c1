import { readChunks } from './chunks.js';

/** One Server-Sent Event as dispatched: `event` defaults to `message`, `id` is the last id seen. */
export interface SseMessage {
  id: string;
  event: string;
  data: string;
}

/**
 * An incremental `text/event-stream` parser (the WHATWG rules): feed it byte chunks as they arrive,
 * get every complete event. Lines end in LF, CRLF or CR and may be split anywhere, also between CR
 * and LF or inside a multi-byte character; `data` lines join with LF; comments (`:`) and unknown
 * fields are ignored; an event without data is not dispatched but its `id` still counts.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  #pending = '';
  #started = false;
  /** The previous chunk ended in CR: an LF that starts the next one belongs to it. */
  #afterCr = false;
  #data: string[] = [];
  #event = '';
  #id = '';
  #dispatchedId = '';
  #retry: number | undefined;

  /** The `id` of the last dispatched (or data-less) event: what `Last-Event-ID` carries on reconnect. */
  get lastEventId(): string {
    return this.#dispatchedId;
  }

  /** The reconnection delay the server asked for with `retry:`, in ms. */
  get retry(): number | undefined {
    return this.#retry;
  }

  /** The events completed by this chunk. */
  push(chunk: Uint8Array | string): SseMessage[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#afterCr && text.length > 0) {
      if (text.startsWith('\n')) text = text.slice(1);
      this.#afterCr = false;
    }
    this.#pending += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#pending.length; i++) {
      const c = this.#pending.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(this.#pending.slice(start, i), out);
      if (c === 13) {
        if (i + 1 === this.#pending.length) this.#afterCr = true;
        else if (this.#pending.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#pending = this.#pending.slice(start);
    return out;
  }

  /** The stream ended: an event without its closing blank line is discarded, as the spec says. */
  end(): void {
    this.#pending = '';
    this.#data = [];
    this.#event = '';
    this.#afterCr = false;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.#dispatch(out);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retry = Number(value);
        break;
      default:
        break;
    }
  }

  #dispatch(out: SseMessage[]): void {
    this.#dispatchedId = this.#id;
    const data = this.#data;
    const event = this.#event;
    this.#data = [];
    this.#event = '';
    if (data.length === 0) return;
    out.push({ id: this.#id, event: event === '' ? 'message' : event, data: data.join('\n') });
  }
}

/** The events of an SSE byte stream as they arrive. Cancels the stream when the loop stops early. */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseMessage> {
  for await (const chunk of readChunks(body)) yield* parser.push(chunk);
  parser.end();
}
