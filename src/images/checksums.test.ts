import { describe, expect, it } from 'vitest';
import { findChecksum } from './checksums.js';

const A = 'a'.repeat(64);
const B = 'B'.repeat(64);
const C = 'c'.repeat(128);

describe('checksum lists', () => {
  it("reads Ubuntu's SHA256SUMS (binary marker) and Debian's SHA512SUMS", () => {
    const ubuntu = `${A} *ubuntu-24.04-server-cloudimg-amd64.img\n${B} *ubuntu-24.04-server-cloudimg-amd64.tar.gz\n`;
    expect(findChecksum(ubuntu, 'ubuntu-24.04-server-cloudimg-amd64.img')).toEqual({ algorithm: 'sha256', hash: A });
    expect(findChecksum(`${C}  debian-12-genericcloud-amd64.qcow2\n`, 'debian-12-genericcloud-amd64.qcow2')).toEqual({ algorithm: 'sha512', hash: C });
  });
  it("reads Fedora's signed BSD-style CHECKSUM", () => {
    const fedora = [
      '-----BEGIN PGP SIGNED MESSAGE-----',
      'Hash: SHA256',
      '',
      '# Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2: 536870912 bytes',
      `SHA256 (Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2) = ${B}`,
      '-----BEGIN PGP SIGNATURE-----',
    ].join('\n');
    expect(findChecksum(fedora, 'Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2')).toEqual({ algorithm: 'sha256', hash: B.toLowerCase() });
  });
  it('does not match a file the list does not name, nor a prefix of one', () => {
    expect(findChecksum(`${A}  disk.qcow2.sig\n`, 'disk.qcow2')).toBeUndefined();
  });
});
