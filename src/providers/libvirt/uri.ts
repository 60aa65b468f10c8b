/**
 * What a libvirt connection URI says, decided here and nowhere else: the driver and transport
 * (`qemu+ssh`), the host (none: this host), and the instance (`/system`, libvirt's own daemon;
 * `/session`, a user's private one). `qemu+ssh://host/session` is a session (of a user on another
 * host): its networks live in that host's /system, like a local session's do here. See
 * https://libvirt.org/uri.html.
 */

export interface LibvirtUri {
  /** `qemu`, `test`, … */
  driver: string;
  /** `ssh`, `unix`, `tcp`, `tls`, … or undefined for the default (a local socket). */
  transport: string | undefined;
  /** '' for this host. */
  host: string;
  /** `/system`, `/session`, `/default` (test driver), … */
  path: string;
  /** The query's parameters (`socket`, `keyfile`, …). */
  params: Record<string, string>;
}

const URI = /^([a-z0-9]+)(?:\+([a-z0-9]+))?:\/\/([^/?]*)(\/[^?]*)?(?:\?(.*))?$/i;

/** The parts of a libvirt URI; undefined when it is not one. */
export function parseLibvirtUri(uri: string): LibvirtUri | undefined {
  const match = URI.exec(uri.trim());
  if (!match) return undefined;
  const params = Object.fromEntries(new URLSearchParams(match[5] ?? ''));
  return { driver: (match[1] as string).toLowerCase(), transport: match[2]?.toLowerCase(), host: match[3] ?? '', path: match[4] ?? '', params };
}

/** A qemu session instance (a user's own libvirt, no networks of its own), on this host or another. */
export function isSessionUri(uri: string): boolean {
  const u = parseLibvirtUri(uri);
  return u?.driver === 'qemu' && u.path === '/session';
}

/** A qemu system instance (libvirt's daemon, running qemu as its own user), on this host or another. */
export function isSystemUri(uri: string): boolean {
  const u = parseLibvirtUri(uri);
  return u?.driver === 'qemu' && u.path === '/system';
}

/** A URI whose hypervisor runs on this host (no host name in it, reached through a local socket). */
export function isLocalUri(uri: string): boolean {
  const u = parseLibvirtUri(uri);
  return u !== undefined && u.host === '' && (u.transport === undefined || u.transport === 'unix');
}

/** This host's own system libvirt (where /dev/kvm here is the one qemu opens as libvirt's user). */
export function isLocalSystemUri(uri: string): boolean {
  return isLocalUri(uri) && isSystemUri(uri);
}

/**
 * This host's system daemon at its own socket: the one systemd (or scripts/libvirtd.sh) starts and
 * the libvirt group may use. A `?socket=` URI names a daemon of its own, which doctor cannot start.
 */
export function isHostDaemonUri(uri: string): boolean {
  return isLocalSystemUri(uri) && parseLibvirtUri(uri)?.params.socket === undefined;
}

/** A session of this host's user (its daemon, folders and /dev/kvm access are this user's). */
export function isLocalSessionUri(uri: string): boolean {
  return isLocalUri(uri) && isSessionUri(uri);
}

/** Where the cluster's network lives: a session has none, so its host's system instance holds it. */
export function networkUriFor(uri: string): string {
  return isSessionUri(uri) ? uri.replace('/session', '/system') : uri;
}
