/** One answer per URI for every question the libvirt provider and doctor ask of it. */
import { describe, expect, it } from 'vitest';
import { isHostDaemonUri, isLocalSessionUri, isLocalSystemUri, isLocalUri, isSessionUri, isSystemUri, networkUriFor, parseLibvirtUri } from './uri.js';

describe('libvirt URIs', () => {
  it.each([
    // uri,                     session, system, local, localSystem, localSession, network URI
    ['qemu:///system', false, true, true, true, false, 'qemu:///system'],
    ['qemu:///session', true, false, true, false, true, 'qemu:///system'],
    ['qemu+unix:///system', false, true, true, true, false, 'qemu+unix:///system'],
    ['qemu+unix:///session?socket=/run/user/1000/libvirt/virtqemud-sock', true, false, true, false, true, 'qemu+unix:///system?socket=/run/user/1000/libvirt/virtqemud-sock'],
    ['qemu+ssh://h/system', false, true, false, false, false, 'qemu+ssh://h/system'],
    ['qemu+ssh://h/session', true, false, false, false, false, 'qemu+ssh://h/system'],
    ['test:///default', false, false, true, false, false, 'test:///default'],
  ] as const)('%s', (uri, session, system, local, localSystem, localSession, network) => {
    expect({
      session: isSessionUri(uri),
      system: isSystemUri(uri),
      local: isLocalUri(uri),
      localSystem: isLocalSystemUri(uri),
      localSession: isLocalSessionUri(uri),
      network: networkUriFor(uri),
    }).toEqual({ session, system, local, localSystem, localSession, network });
  });

  it("this host's system daemon is the one at its usual socket: doctor can start it and fix its group", () => {
    expect(['qemu:///system', 'qemu+unix:///system', 'qemu+unix:///system?socket=/run/x', 'qemu:///session', 'qemu+ssh://h/system'].map(isHostDaemonUri)).toEqual([true, true, false, false, false]);
  });

  it('parses the parts, and refuses what is not a URI', () => {
    expect(parseLibvirtUri('qemu+ssh://root@h:2222/system?keyfile=/k')).toEqual({ driver: 'qemu', transport: 'ssh', host: 'root@h:2222', path: '/system', params: { keyfile: '/k' } });
    expect(parseLibvirtUri('/var/run/libvirt')).toBeUndefined();
    expect(isSessionUri('not a uri /session')).toBe(false);
  });
});
