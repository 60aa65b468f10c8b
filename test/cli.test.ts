/**
 * The CLI as a user runs it: the built `devcluster` in a fresh folder with its own HOME, checking
 * exit codes, what is printed, and the files left behind. Needs `npm run build` (npm test does it).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startFileServer } from './support/file-server.js';

const BIN = fileURLToPath(new URL('../bin/devcluster.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk alice@example';

async function sandbox() {
  const root = await mkdtemp(join(tmpdir(), 'dc-cli-'));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await mkdir(cwd);
  await writeFile(join(home, '.ssh', 'id_ed25519.pub'), `${KEY}\n`);
  const run = (...args: string[]) =>
    execa('node', [BIN, ...args], { cwd, reject: false, env: { HOME: home, SSH_AUTH_SOCK: '' }, extendEnv: false });
  return { root, home, cwd, run };
}

describe('devcluster CLI', () => {
  it('--help lists the commands and the exit codes; --version prints the version', async () => {
    const { run } = await sandbox();
    const help = await run('--help');
    expect(help.exitCode).toBe(0);
    for (const command of ['init', 'config', 'render', 'image', 'up', 'provision', 'status', 'ssh', 'ssh-config', 'halt', 'down', 'doctor']) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(help.stdout).toContain('Exit codes: 0 ok, 1 the operation failed, 2 bad usage or bad config, 130 interrupted (Ctrl-C or SIGTERM)');
    const version = await run('--version');
    expect(version.stdout.trim()).toBe(JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version);
    const sub = await run('config', 'validate', '--help');
    expect(sub.exitCode).toBe(0);
    expect(sub.stdout).toContain('report every problem');
  });

  it('bad usage exits 2 with a message, without a stack trace', async () => {
    const { run } = await sandbox();
    for (const args of [['frobnicate'], ['render', '--bogus'], ['render', '--format', 'xml'], []]) {
      const result = await run(...args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('render with no config prints the default two-node plan, secrets redacted', async () => {
    const { run } = await sandbox();
    const result = await run('render');
    expect(result.exitCode).toBe(0);
    const plan = parse(result.stdout);
    expect(plan.nodes.map((n: { name: string; role: string; ip: string }) => `${n.name}/${n.role}/${n.ip}`)).toEqual([
      'controller/controller/192.168.150.10',
      'compute1/compute/192.168.150.11',
    ]);
    expect(plan.stackUser.authorizedKeys[0]).toBe(KEY);
    expect(result.stdout).not.toContain('PRIVATE KEY');
    expect(result.stderr).toContain('made up for this view only');
  });

  it('render --show-secrets --out writes a 0600 plan holding the private keys', async () => {
    const { run, cwd } = await sandbox();
    const result = await run('render', '--show-secrets', '--out', 'out', '--format', 'json');
    expect(result.exitCode).toBe(0);
    const file = join(cwd, 'out', 'plan.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).clusterKey.private).toContain('OPENSSH PRIVATE KEY');
    const userData = join(cwd, 'out', 'controller', 'user-data');
    expect((await stat(userData)).mode & 0o777).toBe(0o600);
    expect(await readFile(userData, 'utf8')).toContain('ed25519_private: |');
  });

  it('render --out without --show-secrets writes seeds with the private key redacted', async () => {
    const { run, cwd } = await sandbox();
    const result = await run('render', '--out', 'out');
    expect(result.exitCode).toBe(0);
    for (const node of ['controller', 'compute1']) {
      for (const name of ['user-data', 'network-config', 'meta-data']) {
        expect(result.stdout).toContain(join(cwd, 'out', node));
        const text = await readFile(join(cwd, 'out', node, name), 'utf8');
        expect(text).not.toContain('PRIVATE KEY');
      }
    }
    expect(await readFile(join(cwd, 'out', 'compute1', 'user-data'), 'utf8')).toContain('hostname: compute1');
    // Each node's local.conf for its role, passwords redacted.
    const controllerConf = await readFile(join(cwd, 'out', 'controller', 'local.conf'), 'utf8');
    const computeConf = await readFile(join(cwd, 'out', 'compute1', 'local.conf'), 'utf8');
    expect(controllerConf).toMatch(/^\[\[local\|localrc\]\]\n/);
    expect(controllerConf).toMatch(/^ENABLED_SERVICES=mysql,/m);
    expect(computeConf).toContain('HOST_IP=192.168.150.11\nSERVICE_HOST=192.168.150.10\n');
    expect(computeConf).toContain('RABBIT_HOST=192.168.150.10\n');
    expect(computeConf).toMatch(/^ADMIN_PASSWORD=.*REDACTED/im);
  });

  it('render --out in grenade mode: every node\'s local.conf stacks the from-branch in /opt/stack/old; the controller gets grenade\'s files', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'devcluster.yaml'), 'devstack:\n  mode: grenade\n  grenade: { from_branch: stable/2025.2 }\n');
    const result = await run('render', '--out', 'out');
    expect(result.exitCode, result.stderr).toBe(0);
    for (const node of ['controller', 'compute1']) {
      expect(await readFile(join(cwd, 'out', node, 'local.conf'), 'utf8')).toContain('DEST=/opt/stack/old\nLOGFILE=/opt/stack/old/logs/stack.sh.log\n');
    }
    const localrc = await readFile(join(cwd, 'out', 'controller', 'grenade', 'new', 'grenade', 'localrc'), 'utf8');
    expect(localrc).toContain('BASE_DEVSTACK_BRANCH=stable/2025.2\n');
    expect(localrc).toContain('TARGET_DEVSTACK_BRANCH=master\n');
    expect(await readFile(join(cwd, 'out', 'controller', 'grenade', 'new', 'devstack', 'local.conf'), 'utf8')).toContain('DEST=/opt/stack/new\n');
    const valid = await run('config', 'validate');
    expect(valid.exitCode, valid.stderr).toBe(0);
    await writeFile(join(cwd, 'devcluster.yaml'), 'devstack:\n  mode: grenade\n');
    const missing = await run('config', 'validate');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('devstack.grenade.from_branch: grenade mode needs devstack.grenade.from_branch');
  });

  it('provision refuses an unknown step or node before touching anything', async () => {
    const { run, cwd } = await sandbox();
    const step = await run('provision', '--from', 'stak');
    expect(step.exitCode).toBe(2);
    expect(step.stderr).toContain('error USAGE_INVALID: there is no step "stak" (--from)');
    expect(step.stderr).toContain('steps, in order: prepare, devstack, local-conf, stack, tls-ca, discover, images, keypairs, security-groups, grenade');
    const node = await run('provision', '--only', 'compute9');
    expect(node.exitCode).toBe(2);
    expect(node.stderr).toContain('cluster dev has no node "compute9"');
    await expect(stat(join(cwd, '.devcluster'))).rejects.toThrow();
  });

  it('a flag with a bad value is USAGE_INVALID naming the flag, exit 2, before anything is made', async () => {
    const { run, cwd } = await sandbox();
    for (const [args, flag] of [
      [['up', '--boot-timeout', 'x'], '--boot-timeout "x"'],
      [['up', '--stack-timeout', '-5'], '--stack-timeout "-5"'],
      [['provision', '--stack-timeout', ''], '--stack-timeout ""'],
      [['halt', '--timeout', '0'], '--timeout "0"'],
    ] as const) {
      const result = await run(...args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(`error USAGE_INVALID: ${flag} is not a number of seconds`);
      expect(result.stderr).toMatch(/^hint: give a positive number, e\.g\. --[a-z-]+ 900$/m);
    }
    await expect(stat(join(cwd, '.devcluster'))).rejects.toThrow();
  });

  it('ssh or provision on nodes that are not running is NODE_NOT_RUNNING, exit 1 (not bad usage), with the way to start them', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'devcluster.yaml'), 'libvirt:\n  uri: test:///default\n');
    const result = await run('ssh', 'controller', 'true');
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('error NODE_NOT_RUNNING: node controller of cluster dev is not created');
    expect(result.stderr).toContain('hint: run `devcluster up` first');
    const provision = await run('provision');
    expect(provision.exitCode, provision.stderr).toBe(1);
    expect(provision.stderr).toContain('error NODE_NOT_RUNNING: controller is not created, compute1 is not created');
    const unknown = await run('ssh', 'compute9');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('error NODE_NOT_FOUND: cluster dev has no node "compute9"');
  });

  it('init writes a commented config that validates; a second init refuses and keeps the file', async () => {
    const { run, cwd } = await sandbox();
    const init = await run('init', '--name', 'lab');
    expect(init.exitCode).toBe(0);
    const text = await readFile(join(cwd, 'devcluster.yaml'), 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=\/.*schema\/devcluster\.schema\.json$/m);
    expect(text).toMatch(/^name: lab$/m);
    const validate = await run('config', 'validate');
    expect(validate.exitCode).toBe(0);
    expect(validate.stdout).toContain('valid — cluster "lab", 2 node(s) (controller:controller, compute1:compute)');

    await writeFile(join(cwd, 'devcluster.yaml'), `${text}# my edit\n`);
    const again = await run('init');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('CONFIG_EXISTS');
    expect(await readFile(join(cwd, 'devcluster.yaml'), 'utf8')).toContain('# my edit');

    const forced = await run('init', '--force');
    expect(forced.exitCode).toBe(0);
    expect(await readFile(join(cwd, 'devcluster.yaml.bak'), 'utf8')).toContain('# my edit');
  });

  it('config validate reports every problem as FILE:LINE:COL path and exits 2; --verbose adds the stack', async () => {
    const { run } = await sandbox();
    const file = join(FIXTURES, 'invalid', 'multiple-problems.yaml');
    const result = await run('-c', file, 'config', 'validate');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`error CONFIG_INVALID: ${file} has 4 problems`);
    expect(result.stderr).toContain(`${file}:1:7 name:`);
    expect(result.stderr).toContain(`${file}:6:11 nodes[0].cpus (node controller): cpus must be a whole number`);
    expect(result.stderr).toContain(`${file}:8:18 stack_user.password_hash: password_hash looks like a plaintext password`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const verbose = await run('-c', file, '--verbose', 'config', 'validate');
    expect(verbose.stderr).toMatch(/^\s+at /m);
  });

  it("config validate: a node image the branch's stack.sh refuses is an error naming both; an unknown branch only a note", async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'devcluster.yaml'), 'image: ubuntu-22.04\ndevstack:\n  branch: stable/2026.1\n');
    const refused = await run('config', 'validate');
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('devcluster.yaml:1:8 image: image ubuntu-22.04 (DISTRO jammy) is refused by stack.sh of devstack.branch stable/2026.1');
    await writeFile(join(cwd, 'devcluster.yaml'), 'image: ubuntu-22.04\ndevstack:\n  branch: stable/2024.1\n');
    const noted = await run('config', 'validate');
    expect(noted.exitCode, noted.stderr).toBe(0);
    expect(noted.stderr).toContain('note: devstack.branch stable/2024.1: its SUPPORTED_DISTROS is not known to devcluster');
  });

  it('config show fills defaults and redacts passwords', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'devcluster.yaml'), 'devstack:\n  passwords:\n    admin: topsecretAdmin\n');
    const shown = await run('config', 'show');
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).not.toContain('topsecretAdmin');
    expect(parse(shown.stdout).devstack.layer).toBe(2);
    const secret = await run('config', 'show', '--show-secrets');
    expect(parse(secret.stdout).devstack.passwords.admin).toBe('topsecretAdmin');
  });

  it("init --from-vagrant converts devstack-vagrant's sample; the password is hashed by openssl, never written", async () => {
    const { run, cwd } = await sandbox();
    const result = await run('init', '--from-vagrant', join(FIXTURES, 'vagrant', 'sample.yaml'));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('note: stack_sshkey: still the sample placeholder');
    const text = await readFile(join(cwd, 'devcluster.yaml'), 'utf8');
    const config = parse(text);
    expect(JSON.stringify(config.stack_user)).not.toContain('secretsecret');
    const hash: string = config.stack_user.password_hash;
    const salt = hash.split('$')[2] as string;
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: 'secretsecret\n' }).toString().trim()).toBe(hash);
    expect((await stat(join(cwd, 'devcluster.yaml'))).mode & 0o777).toBe(0o600);
    const validate = await run('config', 'validate');
    expect(validate.exitCode, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('bridged');
  });
});

describe('init --from-vagrant writes only what validates', () => {
  const blob = 'AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk';

  it('stack_sshkey_type: ed25519 (a Puppet alias) becomes an ssh-ed25519 key that `config validate` accepts', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'config.yaml'), `hostname_manager: manager\nhostname_compute: compute\nstack_sshkey: ${blob}\nstack_sshkey_type: ed25519\n`);
    const result = await run('init', '--from-vagrant', 'config.yaml');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(parse(await readFile(join(cwd, 'devcluster.yaml'), 'utf8')).stack_user.ssh_public_keys).toEqual([`ssh-ed25519 ${blob}`]);
    const validate = await run('config', 'validate');
    expect(validate.exitCode, validate.stderr).toBe(0);
  });

  it('a value devcluster refuses is left out, listed at the top of the file and on stderr; the file validates', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'config.yaml'), 'hostname_manager: manager\nhostname_compute: compute\nadmin_password: short\ndevstack_branch: stable/2025.2\n');
    const result = await run('init', '--from-vagrant', 'config.yaml');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^note: admin_password: left out, devcluster refuses it as devstack\.passwords\.admin: /m);
    const text = await readFile(join(cwd, 'devcluster.yaml'), 'utf8');
    expect(text.split('\n# Not carried over')[0]).not.toContain('admin_password'); // the list is in the header comment
    expect(text).toMatch(/^# {3}- admin_password: left out, devcluster refuses it as devstack\.passwords\.admin/m);
    expect(parse(text).devstack).toEqual({ branch: 'stable/2025.2' });
    expect(text).not.toContain('short\n');
    const validate = await run('config', 'validate');
    expect(validate.exitCode, validate.stderr).toBe(0);
  });

  it('what leaving fields out cannot fix (a bad --name) writes nothing and names the field', async () => {
    const { run, cwd } = await sandbox();
    await writeFile(join(cwd, 'config.yaml'), 'hostname_manager: manager\n');
    const result = await run('init', '--from-vagrant', 'config.yaml', '--name', 'Bad Name');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('error VAGRANT_CONFIG_INVALID');
    expect(result.stderr).toMatch(/nothing was written/);
    expect(result.stderr).toMatch(/name: /);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(cwd)).toEqual(['config.yaml']);
  });
});

describe('every invalid fixture through the CLI', () => {
  it('exits 2 with CONFIG_INVALID and FILE:LINE:COL, and never a stack trace', async () => {
    const { run } = await sandbox();
    const dir = join(FIXTURES, 'invalid');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    const queue = [...files];
    const worker = async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        const result = await run('-c', join(dir, file), 'config', 'validate');
        expect(result.exitCode, file).toBe(2);
        expect(result.stderr, file).toContain('error CONFIG_INVALID');
        expect(result.stderr, file).toMatch(new RegExp(`${file.replace(/\./g, '\\.')}:\\d+:\\d+ `));
        expect(result.stderr, file).not.toMatch(/^\s+at /m);
        expect(result.stdout, file).toBe('');
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 120_000);
});

describe('devcluster image', () => {
  it('pull verifies into the cache, a second pull downloads nothing, list shows it, prune --all empties it', async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const sha = createHash('sha256').update(body).digest('hex');
    const server = await startFileServer({ '/disk.img': body });
    try {
      const { root } = await sandbox();
      const cache = join(root, 'cache');
      const pull = (...args: string[]) =>
        execa('node', [BIN, 'image', 'pull', ...args], { reject: false, env: { HOME: root, XDG_CACHE_HOME: cache }, extendEnv: false });
      const first = await pull(`${server.base}/disk.img`, '--sha256', sha);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stdout).toContain('verified, 2.0 MiB downloaded');
      expect(first.stdout).toContain(join(cache, 'devcluster', 'images', `sha256-${sha}.raw`));
      const second = await pull(`${server.base}/disk.img`, '--sha256', sha);
      expect(second.stdout).toContain('already cached, 0 bytes downloaded');
      const bad = await pull(`${server.base}/disk.img`, '--sha256', 'a'.repeat(64));
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toContain('error IMAGE_CHECKSUM_MISMATCH');
      expect(bad.stderr).toContain(`expected sha256 ${'a'.repeat(64)}`);
      expect(bad.stderr).toContain(`actual   sha256 ${sha}`);
      const notCatalog = await pull('ubuntu-18.04');
      expect(notCatalog.exitCode).toBe(2);
      const list = await execa('node', [BIN, 'image', 'list'], { env: { HOME: root, XDG_CACHE_HOME: cache }, extendEnv: false });
      expect(list.stdout).toMatch(new RegExp(`^\\(url\\)\\s+yes\\s+2\\.0 MiB .* sha256:${sha.slice(0, 12)}`, 'm'));
      expect(list.stdout).toMatch(/^ubuntu-24\.04\s+no\s/m);
      const prune = await execa('node', [BIN, 'image', 'prune', '--all'], { env: { HOME: root, XDG_CACHE_HOME: cache }, extendEnv: false });
      expect(prune.stdout).toContain('freed 2.0 MiB');
    } finally {
      await server.close();
    }
  });
});
