/**
 * The part of @unraid/libvirt devcluster uses, typed here so the project builds even where the
 * optional native binding could not compile yet (before `devcluster doctor --fix` installed
 * libvirt-dev and rebuilt it). Loaded on first use.
 */
import { DevclusterError } from '../../errors.js';

export interface LibvirtDomain {
  readonly __domain: unique symbol;
}

export interface DomainInfo {
  state: number;
}

export interface LibvirtHypervisor {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  connectListAllDomains(): Promise<LibvirtDomain[]>;
  domainDefineXML(xml: string): Promise<LibvirtDomain>;
  domainLookupByName(name: string): Promise<LibvirtDomain>;
  domainCreate(domain: LibvirtDomain): Promise<void>;
  domainShutdown(domain: LibvirtDomain): Promise<void>;
  domainDestroy(domain: LibvirtDomain): Promise<void>;
  domainSuspend(domain: LibvirtDomain): Promise<void>;
  domainResume(domain: LibvirtDomain): Promise<void>;
  domainUndefine(domain: LibvirtDomain): Promise<void>;
  domainGetInfo(domain: LibvirtDomain): Promise<DomainInfo>;
  domainGetName(domain: LibvirtDomain): Promise<string>;
  domainGetXMLDesc(domain: LibvirtDomain): Promise<string>;
}

export async function openHypervisor(uri: string): Promise<LibvirtHypervisor> {
  let binding: { Hypervisor: new (options: { uri: string }) => LibvirtHypervisor };
  try {
    binding = (await import('@unraid/libvirt' as string)) as typeof binding;
  } catch (error) {
    throw new DevclusterError('HOST_TOOL_MISSING', 'the libvirt binding (@unraid/libvirt) is not built', {
      cause: error,
      hint: 'run `devcluster doctor --fix` (installs libvirt-dev and rebuilds it)',
    });
  }
  const hypervisor = new binding.Hypervisor({ uri });
  try {
    await hypervisor.connectOpen();
  } catch (error) {
    throw new DevclusterError('LIBVIRT_FAILED', `cannot connect to libvirt at ${uri}: ${(error as Error).message}`, {
      cause: error,
      hint: 'run `devcluster doctor` to see what is missing (is libvirtd running?)',
    });
  }
  return hypervisor;
}
