/**
 * A runtime's required env (`requiredEnv`): each entry is a key, or `A|B|…` when any one of them
 * will do (Claude Code takes an API key or an OAuth token). Returns the entries nothing satisfies,
 * as written, so the message lists exactly what to add.
 */
export function missingRequiredEnv(required: readonly string[], available: Iterable<string>): string[] {
  const keys = new Set(available);
  return required.filter((entry) => !entry.split('|').some((key) => keys.has(key)));
}

/** How a missing entry reads in a message: `A|B` becomes "one of A, B". */
export const describeRequiredEnv = (entry: string): string =>
  entry.includes('|') ? `one of ${entry.split('|').join(', ')}` : entry;
