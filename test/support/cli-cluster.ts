/**
 * For the real-guest tests: a folder holding a devcluster.yaml, the built CLI run inside it (with its
 * own HOME and cache), and dnsmasq as a LAN's DHCP server for the bridged-mode tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const BIN = fileURLToPath(new URL('../../bin/devcluster.js', import.meta.url));

/** The test image as a config `image:` value, verified through its SHA256SUMS. */
export function testImageSpec(image: string, sums: string): string {
  return `{ url: "file://${image}", checksums_url: "file://${sums}" }`;
}

export type CliRun = (...args: string[]) => Promise<{ exitCode: number | undefined; stdout: string; stderr: string; pid?: number }>;

/** Write `lines` as WORK/devcluster.yaml and return a runner of the CLI in WORK. */
export async function clusterInDir(work: string, lines: readonly string[]): Promise<CliRun> {
  await writeFile(join(work, 'devcluster.yaml'), `${lines.join('\n')}\n`);
  return async (...args) => {
    const subprocess = execa('node', [BIN, ...args], { cwd: work, reject: false, env: { HOME: work, XDG_CACHE_HOME: join(work, 'cache') } });
    const result = await subprocess;
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), ...(subprocess.pid === undefined ? {} : { pid: subprocess.pid }) };
  };
}

/** dnsmasq serving DHCP (no DNS) on `iface`, inside `netns` when given; kill() it when done. */
export function startDhcp(options: { iface: string; range: string; work: string; netns?: string }): ChildProcess {
  const args = ['dnsmasq', '--keep-in-foreground', '--port=0', `--interface=${options.iface}`, '--bind-interfaces', `--dhcp-range=${options.range},1h`,
    `--dhcp-leasefile=${join(options.work, 'leases')}`, `--pid-file=${join(options.work, 'dnsmasq.pid')}`];
  return options.netns ? spawn('ip', ['netns', 'exec', options.netns, ...args], { stdio: 'ignore' }) : spawn(args[0] as string, args.slice(1), { stdio: 'ignore' });
}
