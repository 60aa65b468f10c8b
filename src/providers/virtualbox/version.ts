/**
 * The VirtualBox versions devcluster runs on, decided once: 6.1 or later (nested VT-x for the nodes,
 * and the VBoxManage options the provider uses). Both the provider (VBoxManage.version, before it
 * makes anything) and doctor's vboxmanage check ask here.
 */

export interface VBoxVersion {
  major: number;
  minor: number;
  /** As VBoxManage --version printed it, e.g. 7.0.20r163906. */
  text: string;
}

export const MIN_VERSION = { major: 6, minor: 1 } as const;
export const MIN_VERSION_TEXT = `${MIN_VERSION.major}.${MIN_VERSION.minor}`;
export const INSTALL_HINT = 'install VirtualBox 7 from https://www.virtualbox.org/wiki/Linux_Downloads';

/** The version in `VBoxManage --version`'s output (its last line; warnings may come first). */
export function parseVBoxVersion(stdout: string): VBoxVersion | undefined {
  const text = stdout.trim().split('\n').pop()?.trim() ?? '';
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? { major: Number(match[1]), minor: Number(match[2]), text } : undefined;
}

export function isSupported(version: Pick<VBoxVersion, 'major' | 'minor'>): boolean {
  return version.major > MIN_VERSION.major || (version.major === MIN_VERSION.major && version.minor >= MIN_VERSION.minor);
}
