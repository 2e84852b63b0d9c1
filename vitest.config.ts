import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure decisions on plain data, no engine) and `engine` (real Docker daemon,
// real SQLite files, real HTTP). scripts/test.sh runs both; CI must have an engine.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'engine',
          include: ['packages/*/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: keep engine-heavy files from starving each other.
          maxWorkers: 2,
          globalSetup: ['packages/server/test/global-setup.ts'],
        },
      },
    ],
  },
});
