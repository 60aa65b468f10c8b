/**
 * The test suite in three tiers, named by what they need (the tier is in each file's name):
 * - unit (`*.test.ts`): no root, no libvirt daemon, no guest; files run in parallel. `npm run test:unit`.
 * - doubles (`*.doubles.test.ts`): the stand-ins the other tiers run against (fake DevStack, the
 *   VBoxManage stand-in, the OpenStack API double, netns hosts, the devstack-real harness), checked
 *   against what they stand in for; some need root (network namespaces).
 * - host (`*.host.test.ts`): root, libvirt's daemons, real guests (test/integration, test/reliability,
 *   the provider contract on qemu:///system), or the host's network namespaces; one file at a time,
 *   since they share 2 cores and one libvirtd (which the daemon script test restarts). The tests
 *   that only need a running cluster share one (test/support/shared-cluster.ts).
 * `npm test` runs all three, one tier after the other (unit, doubles, host); test/summary-reporter.ts
 * prints each tier's time and the closing `tests:` line.
 */
import { configDefaults, defineConfig } from 'vitest/config';

const HOST = '**/*.host.test.ts';
const DOUBLES = '**/*.doubles.test.ts';
/** One file after the other, in one worker process. */
const serial = { pool: 'forks', poolOptions: { forks: { singleFork: true } } } as const;

export default defineConfig({
  test: {
    testTimeout: 30_000,
    // Unit files mostly wait (child processes, stand-ins' delays): three at once even on 2 cores. The
    // doubles and host tiers run theirs in a single worker anyway.
    maxWorkers: 3,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, HOST, DOUBLES],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'doubles', include: [DOUBLES], ...serial, sequence: { groupOrder: 1 } } },
      {
        extends: true,
        // The run's shared stacked cluster: made when first asked for, removed at the end.
        test: { name: 'host', include: [HOST], ...serial, sequence: { groupOrder: 2 }, globalSetup: ['./test/support/shared-cluster-setup.ts'] },
      },
    ],
  },
});
