import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Known secret values (admin token, token secrets seen at creation). The log sink replaces each with
 * `********` before anything is written, whatever field or message it hides in.
 */
export class SecretRegistry {
  private readonly values = new Set<string>();

  add(value: string | undefined | null): void {
    if (value && value.length >= 8) this.values.add(value);
  }

  mask(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('********');
    return out;
  }
}

export interface LoggerOptions {
  level: string;
  secrets: SecretRegistry;
  /** Where JSON lines go; default stderr. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'berth' },
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.secret', '*.token', 'env', '*.env'],
        censor: '[REDACTED]',
      },
      hooks: { streamWrite: (line) => options.secrets.mask(line) },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
