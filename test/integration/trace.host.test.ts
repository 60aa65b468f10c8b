/** Placeholder while the shared cluster is made (replaced by the trace test). */
import { expect, it } from 'vitest';
import { sharedCluster } from '../support/shared-cluster.js';

it('makes the shared cluster', async () => {
  const c = await sharedCluster();
  expect(c.up.exitCode).toBe(0);
}, 45 * 60_000);
