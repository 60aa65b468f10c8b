/**
 * libvirt's per-domain log (/var/log/libvirt/qemu/NAME.log for qemu:///system): libvirt appends the
 * qemu command line and everything qemu writes to stderr, and a line of its own when the domain
 * stops. From it, the hypervisor's own words on why a guest stopped: "KVM internal error. Suberror: 1"
 * and "emulation failure" (qemu accel/kvm/kvm-all.c, kvm_handle_internal_error), "Could not access
 * KVM kernel module: Permission denied" (kvm_init), "shutting down, reason=crashed" (libvirt's
 * qemuProcessStop).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isSessionUri } from './uri.js';

/** Where libvirt keeps the domain logs for a connection URI. */
export function libvirtLogDir(uri: string): string {
  if (isSessionUri(uri)) return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'libvirt/qemu/log');
  return '/var/log/libvirt/qemu';
}

// libvirt starts each run of the domain with "2026-11-30 18:54:36.012+0000: starting up libvirt version: …".
const RUN_START = /^\S+ \S+: starting up\b/;
// What qemu and libvirt say when a guest cannot run; the register dump and the command line are not.
const ERROR_LINE = /(error|fail|denied|cannot|could not|unable|not supported|abort|crash|panic|shutting down, reason=(?!shutdown|destroyed))/i;

/** The error lines of the latest run in a domain log's text, without timestamps, at most `max`. */
export function qemuErrorLines(text: string, max = 4): string[] {
  const lines = text.split('\n');
  let start = 0;
  lines.forEach((line, i) => {
    if (RUN_START.test(line)) start = i + 1;
  });
  const out: string[] = [];
  for (const raw of lines.slice(start)) {
    // qemu's own lines carry "2026-11-30T18:54:36.037118Z qemu-system-x86_64: …" with -msg timestamp=on.
    const line = raw.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+/, '').trim();
    if (line === '' || line.startsWith('-') || /^[A-Z]{2,3}\s*=/.test(line) || line.startsWith('extra data')) continue;
    if (ERROR_LINE.test(line) && !out.includes(line)) out.push(line);
    if (out.length >= max) break;
  }
  return out;
}

/** The error lines of a domain's latest run ([] when there is no log or nothing went wrong). */
export async function domainErrorLines(logDir: string, domain: string, max = 4): Promise<string[]> {
  const text = await readFile(join(logDir, `${domain}.log`), 'utf8').catch(() => '');
  return qemuErrorLines(text, max);
}
