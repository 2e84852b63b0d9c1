import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SECRET_MAX_VALUE_BYTES } from '@berth/protocol';
import type { CliContext } from '../../context.js';
import { UsageError } from '../../exit-codes.js';

export interface ValueSource {
  fromFile?: string;
  fromEnv?: string;
}

/** Stops reading stdin well past the largest value, so a wrong pipe is refused, not buffered whole. */
const READ_CAP_BYTES = SECRET_MAX_VALUE_BYTES * 4;

/**
 * A secret value from a file, an env var, or stdin (a hidden prompt on a terminal): never from
 * argv, where it would land in shell history and `ps`. One trailing newline of a file or stdin is
 * dropped (`echo`, editors). No error repeats the value.
 */
export async function readSecretValue(ctx: CliContext, name: string, source: ValueSource): Promise<string> {
  if (source.fromFile !== undefined && source.fromEnv !== undefined) {
    throw new UsageError('use one of --from-file and --from-env (or neither, for stdin)');
  }
  if (source.fromEnv !== undefined) {
    const value = ctx.env[source.fromEnv];
    if (value === undefined || value === '') throw new UsageError(`${source.fromEnv} is not set or empty`);
    return value;
  }
  let bytes: Uint8Array;
  if (source.fromFile !== undefined) {
    try {
      bytes = readFileSync(resolve(ctx.cwd, source.fromFile));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`cannot read ${source.fromFile} (${code})`);
    }
  } else if (ctx.stdin.isTTY) {
    return nonEmpty(await promptHidden(ctx, `Value of ${name} (input hidden, Enter ends)`));
  } else {
    bytes = await readCapped(ctx.stdin, READ_CAP_BYTES);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError('the value is not UTF-8 text; base64-encode binary values');
  }
  return nonEmpty(text.replace(/\r?\n$/, ''));
}

function nonEmpty(value: string): string {
  if (value === '') throw new UsageError('the value is empty');
  return value;
}

async function readCapped(input: AsyncIterable<unknown>, cap: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    total += buffer.length;
    if (total > cap) {
      throw new UsageError(
        `stdin holds more than ${cap} bytes; a secret value is at most ${SECRET_MAX_VALUE_BYTES}`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads one line from a terminal without echoing it. Ctrl-C cancels. */
function promptHidden(ctx: CliContext, label: string): Promise<string> {
  const stdin = ctx.stdin;
  ctx.stderr.write(`${label}: `);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolvePrompt, reject) => {
    let chars: string[] = [];
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      ctx.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolvePrompt(chars.join(''));
          return;
        }
        if (ch === '\u0003') {
          finish();
          chars = [];
          reject(new UsageError('cancelled; nothing was stored'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}
