/**
 * `devcluster doctor` as the CLI runs it (its commander command with a captured CliIO), against
 * configs pointing at libvirt's test driver or at a socket that does not exist. Never with --fix:
 * that would change this host.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerDoctor } from '../cli/commands/doctor.js';
import { reportError } from '../cli/errors.js';
import type { CliIO } from '../cli/io.js';
import type { Finding } from './finding.js';

const HAS_VIRSH = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'virsh')));
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk alice@example';

async function doctor(configText: string, ...args: string[]) {
  const root = await mkdtemp(join(tmpdir(), 'dc-doctor-cli-'));
  await mkdir(join(root, '.ssh'));
  await writeFile(join(root, '.ssh', 'id_ed25519.pub'), `${KEY}\n`);
  await writeFile(join(root, 'devcluster.yaml'), configText);
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    errRaw: (t) => err.push(t),
    signal: new AbortController().signal,
    isTTY: false,
    cwd: root,
    env: { ...process.env, HOME: root, SSH_AUTH_SOCK: '' },
  };
  const program = new Command('devcluster').option('-c, --config <file>').exitOverride();
  registerDoctor(program, io);
  let code = 0;
  try {
    await program.parseAsync(['node', 'devcluster', 'doctor', ...args]);
  } catch (error) {
    code = reportError(io, error, false);
  }
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const LINE = /^(ok {3}|warn |FAIL )[a-z-]+: \S/;

describe.skipIf(!HAS_VIRSH)('devcluster doctor', () => {
  it('prints one line per finding with its fixes, and exits 1 exactly when something failed', async () => {
    const { code, stdout, stderr } = await doctor('libvirt:\n  uri: test:///default\n  pool: default-pool\n');
    const lines = stdout.split('\n');
    expect(lines.some((l) => /^ok {3}pool: storage pool "default-pool" is active/.test(l))).toBe(true);
    expect(lines.find((l) => l.startsWith('ok   libvirt: '))).toMatch(/^ok {3}libvirt: reachable at test:\/\/\/default \(libvirt \d/);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^(ok {3}|warn |FAIL )[a-z-]+: \S|^ {2}(fix|note): \S/);
    const summary = /^(\d+) ok, (\d+) warn, (\d+) fail$/.exec(lines.at(-1) ?? '');
    expect(summary).not.toBeNull();
    const fails = Number(summary?.[3]);
    expect(lines.filter((l) => l.startsWith('FAIL ')).length).toBe(fails);
    expect(code).toBe(fails > 0 ? 1 : 0);
    if (fails > 0) expect(stderr).toContain('this host is not ready');
  });

  it('unreachable libvirt: FAIL, the pool not checked, exit 1 with a hint; --json says the same', async () => {
    const config = 'libvirt:\n  uri: qemu+unix:///system?socket=/nonexistent/sock\n';
    const text = await doctor(config);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^FAIL libvirt: not reachable at qemu\+unix:\/\/\/system\?socket=\/nonexistent\/sock: /m);
    expect(text.stdout).toMatch(/^warn pool: storage pool "default" not checked/m);
    expect(text.stderr).toMatch(/^error PROVIDER_UNAVAILABLE: this host is not ready: \d+ checks? failed \(.*libvirt.*\)$/m);
    expect(text.stderr).toContain('hint: run `devcluster doctor --fix`');

    const json = await doctor(config, '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { config: string; findings: Finding[]; applied: unknown[] };
    expect(parsed.config).toMatch(/devcluster\.yaml$/);
    expect(parsed.applied).toEqual([]);
    const ids = parsed.findings.map((f) => f.id);
    expect(ids.slice(0, 4)).toEqual(['packages', 'binding', 'libvirt', 'pool']);
    expect(parsed.findings.find((f) => f.id === 'libvirt')?.status).toBe('fail');
    // The text lines and the JSON agree.
    expect(text.stdout.split('\n').filter((l) => LINE.test(l)).map((l) => l.split(':')[0]?.slice(5))).toEqual(ids);
  });

  it('bridged mode checks the bridge interface', async () => {
    const config = 'libvirt:\n  uri: test:///default\n  pool: default-pool\nnetwork:\n  mode: bridged\n  bridge_interface: dcnosuchbr0\n';
    const { code, stdout } = await doctor(config, '--json');
    expect(code).toBe(1);
    const bridge = (JSON.parse(stdout) as { findings: Finding[] }).findings.find((f) => f.id === 'bridge');
    expect(bridge).toMatchObject({ status: 'fail', message: 'network.bridge_interface "dcnosuchbr0" does not exist on this host' });
  });
});
