import type { Command } from 'commander';
import type { CliContext } from '../../context.js';

export function registerSecretsRekey(secrets: Command, ctx: CliContext): void {
  secrets
    .command('rekey')
    .description('Re-seal every secret with the server’s active key, the last step of a key rotation (admin)')
    .addHelpText(
      'after',
      '\nRotation: put a new <keyId>:<base64 32 bytes> line first in the key file (keep the old one\n' +
        'below it), restart the server, run this, then remove the old line. See README, "Secrets".',
    )
    .action(async () => {
      const result = await ctx.client().secrets.rekey({ signal: ctx.signal });
      ctx.result(result, () => `re-sealed ${result.rekeyed} secret(s) with key ${result.keyId}`);
    });
}
