import { z } from 'zod';

/** A readiness probe: exactly one of http, tcp and command, with a timeout and an interval. */
export const ReadinessSchema = z
  .strictObject({
    http: z
      .strictObject({
        port: z.number().int().min(1).max(65535),
        path: z
          .string()
          .regex(/^\/[\x21-\x7e]*$/, 'an absolute URL path such as /healthz')
          .max(2048)
          .optional(),
      })
      .optional(),
    tcp: z.strictObject({ port: z.number().int().min(1).max(65535) }).optional(),
    command: z.array(z.string().max(4096)).min(1).max(256).optional(),
    timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
    intervalMs: z.number().int().min(50).max(60_000).optional(),
  })
  .refine((p) => [p.http, p.tcp, p.command].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of http, tcp and command',
  });

export type Readiness = z.infer<typeof ReadinessSchema>;
