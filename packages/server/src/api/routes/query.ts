import { z } from 'zod';

/** A `true|false|1|0` query flag with a default. */
export const boolFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'use true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1'));

/** `?wait=true|false`, default true. */
export const waitFlag = boolFlag(true);

export const WaitQuery = z.strictObject({ wait: waitFlag });
