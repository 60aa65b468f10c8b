/**
 * The images devcluster knows by name: where each lives, where its checksum list lives and in which
 * form, and its disk format. Ubuntu publishes SHA256SUMS (GNU form), Fedora a CHECKSUM file in BSD
 * form (`SHA256 (file) = hash`, PGP-signed), Debian SHA512SUMS (GNU form).
 */
import type { ImageName } from '../config/catalog-names.js';

export type HashAlgorithm = 'sha256' | 'sha512';

export interface CatalogImage {
  name: ImageName;
  description: string;
  /**
   * DevStack's DISTRO on this image (functions-common GetDistro: Ubuntu and Debian `$os_CODENAME`,
   * Fedora `f$os_RELEASE`), which stack.sh matches against SUPPORTED_DISTROS.
   */
  distro: string;
  url: string;
  checksumsUrl: string;
  algorithm: HashAlgorithm;
  format: 'qcow2';
}

export const CATALOG: Record<ImageName, CatalogImage> = {
  'ubuntu-24.04': {
    name: 'ubuntu-24.04',
    distro: 'noble',
    description: 'Ubuntu 24.04 LTS (Noble) server cloud image',
    url: 'https://cloud-images.ubuntu.com/releases/noble/release/ubuntu-24.04-server-cloudimg-amd64.img',
    checksumsUrl: 'https://cloud-images.ubuntu.com/releases/noble/release/SHA256SUMS',
    algorithm: 'sha256',
    format: 'qcow2',
  },
  'ubuntu-22.04': {
    name: 'ubuntu-22.04',
    distro: 'jammy',
    description: 'Ubuntu 22.04 LTS (Jammy) server cloud image',
    url: 'https://cloud-images.ubuntu.com/releases/jammy/release/ubuntu-22.04-server-cloudimg-amd64.img',
    checksumsUrl: 'https://cloud-images.ubuntu.com/releases/jammy/release/SHA256SUMS',
    algorithm: 'sha256',
    format: 'qcow2',
  },
  'fedora-42': {
    name: 'fedora-42',
    distro: 'f42',
    description: 'Fedora 42 Cloud Base Generic',
    url: 'https://download.fedoraproject.org/pub/fedora/linux/releases/42/Cloud/x86_64/images/Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2',
    checksumsUrl: 'https://download.fedoraproject.org/pub/fedora/linux/releases/42/Cloud/x86_64/images/Fedora-Cloud-42-1.1-x86_64-CHECKSUM',
    algorithm: 'sha256',
    format: 'qcow2',
  },
  'debian-12': {
    name: 'debian-12',
    distro: 'bookworm',
    description: 'Debian 12 (bookworm) genericcloud',
    url: 'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2',
    checksumsUrl: 'https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS',
    algorithm: 'sha512',
    format: 'qcow2',
  },
};
