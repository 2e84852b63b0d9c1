import { z } from 'zod';

/** `?wait=true|false|1|0`, default true. */
export const waitFlag = z
  .enum(['true', 'false', '1', '0'], { message: 'wait is true or false' })
  .default('true')
  .transform((v) => v === 'true' || v === '1');

export const WaitQuery = z.strictObject({ wait: waitFlag });
