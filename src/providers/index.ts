/** The provider a config names. */
import { DevclusterError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { LibvirtProvider } from './libvirt/provider.js';
import type { Provider } from './provider.js';

export function createProvider(config: Config): Provider & { close?: () => Promise<void> } {
  if (config.provider === 'libvirt') return new LibvirtProvider({ uri: config.libvirt.uri, pool: config.libvirt.pool });
  throw new DevclusterError('PROVIDER_UNAVAILABLE', 'the VirtualBox provider is not built yet', {
    hint: 'use provider: libvirt for now (VirtualBox support is planned next)',
  });
}
