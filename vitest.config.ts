import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/support/table-per-file.ts'],
    include: ['test/**/*.test.ts', 'domain/**/*.test.ts', 'events/**/*.test.ts', 'functions/**/*.test.ts', 'local/**/*.test.ts'],
    pool: 'forks',
    // The tests mostly wait on DynamoDB Local (its own JVM process); vitest's default of
    // CPUs − 1 workers would run them one file at a time on a 2-core machine.
    maxWorkers: 3,
    // Node 20 is what these machines run; the SDK's notice about its 2027 releases is known.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // Generous: the race tests fire hundreds of real requests, and a loaded 2-core machine is slow.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
