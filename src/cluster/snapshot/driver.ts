/** The provider's snapshot driver, or the one refusal every snapshot command gives when there is none. */
import { DevclusterError } from '../../errors.js';
import type { Provider } from '../../providers/provider.js';
import type { SnapshotDriver } from '../../providers/snapshot.js';

export function driverOf(provider: Provider): SnapshotDriver {
  if (!provider.snapshots) throw new DevclusterError('SNAPSHOT_FAILED', `the ${provider.name} provider cannot take snapshots`, { hint: 'use provider: libvirt or virtualbox' });
  return provider.snapshots;
}
