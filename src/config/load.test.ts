import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText } from './load.js';
import { EXAMPLE_FILE, SCHEMA_FILE } from './template.js';
import { renderJsonSchema } from './json-schema.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk alice@example';

async function home(withKey = true): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-home-'));
  if (withKey) {
    await mkdir(join(dir, '.ssh'));
    await writeFile(join(dir, '.ssh', 'id_ed25519.pub'), `${KEY}\n`);
    await writeFile(join(dir, '.ssh', 'broken.pub'), 'not a key\n');
  }
  return dir;
}

describe('loading a config', () => {
  it('with no file gives the default two-node libvirt NAT cluster and the user\'s ~/.ssh keys', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'dc-cwd-'));
    const loaded = await loadConfig({ cwd, home: await home(), agentSocket: undefined });
    expect(loaded.file).toBeUndefined();
    expect(loaded.config).toMatchObject({ name: 'dev', provider: 'libvirt', image: 'ubuntu-24.04', network: { mode: 'nat', cidr: '192.168.150.0/24' } });
    expect(loaded.config.nodes).toEqual([{ name: 'controller', role: 'controller' }, { name: 'compute1', role: 'compute' }]);
    expect(loaded.userKeys.map((k) => k.line)).toEqual([KEY]);
  });

  it('config.example.yaml describes exactly the zero-config default', async () => {
    const h = await home(false);
    const example = await parseConfigText(await readFile(EXAMPLE_FILE, 'utf8'), { file: EXAMPLE_FILE, baseDir: tmpdir(), home: h, agentSocket: undefined });
    const none = await parseConfigText('', { file: undefined, baseDir: tmpdir(), home: h, agentSocket: undefined });
    const withDefaults = (c: typeof example.config) => ({
      ...c,
      nodes: c.nodes.map((n) => ({ cpus: n.role === 'controller' ? 4 : 2, memory: n.role === 'controller' ? '8GiB' : '4GiB', disk: n.role === 'controller' ? '40GiB' : '20GiB', ...n })),
    });
    expect(withDefaults(example.config)).toEqual(withDefaults(none.config));
  });

  it('an explicit -c that does not exist is an error, not the default cluster', async () => {
    await expect(loadConfig({ configPath: 'nope.yaml', cwd: tmpdir(), agentSocket: undefined })).rejects.toMatchObject({ code: 'CONFIG_NOT_FOUND' });
  });

  it('reads key files relative to the config and from ~, and literal keys', async () => {
    const h = await home();
    const dir = await mkdtemp(join(tmpdir(), 'dc-cfg-'));
    await writeFile(join(dir, 'team.pub'), `# team keys\n${KEY.replace('alice', 'bob')}\n`);
    await writeFile(join(dir, 'devcluster.yaml'), `stack_user:\n  ssh_public_keys: [./team.pub, ~/.ssh/id_ed25519.pub, "${KEY.replace('alice', 'carol')}"]\n`);
    const loaded = await loadConfig({ cwd: dir, home: h, agentSocket: undefined });
    expect(loaded.userKeys.map((k) => k.line.split(' ')[2])).toEqual(['bob@example', 'alice@example', 'carol@example']);
  });

  it('an empty file is the default cluster', async () => {
    const loaded = await parseConfigText('# nothing yet\n', { file: 'x.yaml', baseDir: tmpdir(), home: await home(false), agentSocket: undefined });
    expect(loaded.config.nodes).toHaveLength(2);
  });

  it('the JSON Schema in the repo matches the zod schema (run `npm run schema` after a change)', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(renderJsonSchema());
  });
});
