/** Byte helpers that work the same in browsers and Node.js (no `Buffer`). */

const encoder = new TextEncoder();

/** UTF-8 bytes of a string; bytes pass through. */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

/** base64url (no padding) of a string's UTF-8 bytes, e.g. for the bearer subprotocol. */
export function base64url(text: string): string {
  const bytes = encoder.encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** One array holding all `parts`, in order. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Collects bytes up to `capacity`; what does not fit is dropped and `truncated` says so. The text
 * is decoded once at the end, so characters split across chunks decode correctly.
 */
export class CappedBytes {
  readonly #parts: Uint8Array[] = [];
  #size = 0;
  truncated = false;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): void {
    const room = this.capacity - this.#size;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    // Copy: the caller's chunk may be a view on a buffer that is reused.
    const part = chunk.slice(0, Math.min(room, chunk.length));
    if (part.length < chunk.length) this.truncated = true;
    this.#parts.push(part);
    this.#size += part.length;
  }

  bytes(): Uint8Array {
    return concatBytes(this.#parts);
  }

  /** The UTF-8 text (invalid sequences become U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/**
 * Decodes a byte stream as UTF-8 chunk by chunk: a character split across chunks is held back
 * until its last byte arrives, instead of turning into replacement characters.
 */
export class Utf8StreamDecoder {
  readonly #decoder = new TextDecoder('utf-8');

  /** Text of the complete characters so far (possibly empty). */
  write(chunk: Uint8Array): string {
    return this.#decoder.decode(chunk, { stream: true });
  }

  /** Whatever is held back (an incomplete final character becomes U+FFFD). */
  end(): string {
    return this.#decoder.decode();
  }
}
