import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    // One file at a time: the real-guest tests share 2 cores and one libvirtd, which the daemon
    // script test restarts.
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
