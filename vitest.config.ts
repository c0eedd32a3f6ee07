import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    testTimeout: 30_000,
    // Bounds for set-ups that load models and start apps; on a loaded 2-core machine 60 s was not enough.
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores: more workers only add contention for the real-time media tests.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
