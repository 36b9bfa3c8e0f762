import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup/crash-detector.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // `npm run coverage`: v8 coverage of the library's own sources, from the tests that run in
    // this process (Bun and Deno child processes are not instrumented; their suites still count
    // as tests, not as coverage).
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'adapters/**/*.ts', 'cli/**/*.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
      reportsDirectory: 'coverage',
    },
  },
});
