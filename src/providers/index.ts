/** The provider a config names. */
import type { Config } from '../config/schema.js';
import { LibvirtProvider } from './libvirt/provider.js';
import { VirtualBoxProvider } from './virtualbox/provider.js';
import type { Provider } from './provider.js';

export function createProvider(config: Config): Provider {
  if (config.provider === 'libvirt') return new LibvirtProvider({ uri: config.libvirt.uri, pool: config.libvirt.pool, accelerator: config.libvirt.accelerator });
  return new VirtualBoxProvider();
}
