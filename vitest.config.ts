import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure decisions on plain data), `helper` (the in-workspace helper binary
// on real files and processes) and `engine` (real Docker daemon, real SQLite files, real HTTP).
// scripts/test.sh runs all three; CI must have an engine. A fourth, `outage`, kills and restarts
// dockerd, so it exists only with BERTH_OUTAGE_PROJECT=1 (scripts/test.sh) and runs on its own.
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
        // berth-helper run directly on the host: no engine needed, but real files and processes.
        test: {
          name: 'helper',
          include: ['packages/helper/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'engine',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['packages/helper/test/**', 'packages/server/test/outage/**'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: keep engine-heavy files from starving each other.
          maxWorkers: 2,
          globalSetup: ['packages/server/test/global-setup.ts'],
        },
      },
      // Stops and restarts the Docker daemon itself (F3, F4): only on request, alone, last.
      ...(process.env.BERTH_OUTAGE_PROJECT === '1'
        ? [
            {
              test: {
                name: 'outage',
                include: ['packages/server/test/outage/**/*.test.ts'],
                environment: 'node' as const,
                testTimeout: 600_000,
                hookTimeout: 180_000,
                globalSetup: ['packages/server/test/global-setup.ts'],
              },
            },
          ]
        : []),
    ],
  },
});
