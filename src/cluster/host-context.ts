/** What the provisioning steps need from this host, built the same way for `up` and `provision`. */
import { homedir } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { CacheLayout } from '../images/cache.js';
import type { HostContext } from '../provision/steps/index.js';
import { hostNestsKvm, nodesNestKvm } from '../providers/libvirt/accel.js';

/** Whether the nodes will have /dev/kvm: libvirt asks its accelerator; VirtualBox nests when this host does. */
export function nodesHaveKvm(config: LoadedConfig['config']): Promise<boolean> {
  return config.provider === 'libvirt' ? nodesNestKvm({ uri: config.libvirt.uri, accelerator: config.libvirt.accelerator }) : hostNestsKvm();
}

export async function hostContext(loaded: LoadedConfig, options: { cacheLayout?: CacheLayout; stackTimeoutMs?: number; cloneTimeoutMs?: number }): Promise<HostContext> {
  return {
    baseDir: loaded.baseDir,
    home: process.env.HOME ?? homedir(),
    nestedVirt: await nodesHaveKvm(loaded.config),
    stackTimeoutMs: options.stackTimeoutMs ?? 2 * 3600_000,
    cloneTimeoutMs: options.cloneTimeoutMs ?? 15 * 60_000,
    ...(options.cacheLayout ? { cacheLayout: options.cacheLayout } : {}),
  };
}
