/** --with FILE: what is laid over the generated config, and each way a file can be refused. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layOver, readOverlay } from './overlay.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dc-overlay-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const generated = () => ({
  name: 'devstack-multinode',
  nodes: [
    { name: 'controller', role: 'controller', cpus: 2, memory: '8GiB' },
    { name: 'compute1', role: 'compute', cpus: 2, memory: '8GiB' },
  ],
  devstack: { branch: 'master', local_conf: { controller: 'A', compute: 'B' } },
});

describe('layOver', () => {
  it('merges mappings key by key, nodes by name, and replaces anything else', () => {
    const config = generated();
    const set = layOver(config, { nodes: [{ name: 'compute1', memory: '2GiB' }], devstack: { repo: '/srv/devstack' }, post_stack: { images: ['cirros'] } }, 'f.yaml');
    expect(set).toEqual(['nodes.compute1.memory', 'devstack.repo', 'post_stack']);
    expect(config.nodes).toEqual([
      { name: 'controller', role: 'controller', cpus: 2, memory: '8GiB' },
      { name: 'compute1', role: 'compute', cpus: 2, memory: '2GiB' },
    ]);
    expect(config.devstack).toEqual({ branch: 'master', repo: '/srv/devstack', local_conf: { controller: 'A', compute: 'B' } });
  });

  it('refuses nodes that are not a list, an entry without a name, and a node the build does not have', () => {
    expect(() => layOver(generated(), { nodes: { name: 'compute1' } }, 'f.yaml')).toThrow("--with f.yaml: nodes must be a list of { name, … } naming the build's nodes (controller, compute1)");
    expect(() => layOver(generated(), { nodes: [{ memory: '2GiB' }] }, 'f.yaml')).toThrow("--with f.yaml: nodes[0] has no name (the build's nodes: controller, compute1)");
    expect(() => layOver(generated(), { nodes: [{ name: 'compute2' }] }, 'f.yaml')).toThrow('nodes[0] names compute2, which the build does not have');
  });
});

describe('readOverlay', () => {
  it('reads a YAML mapping', async () => {
    await writeFile(join(dir, 'ok.yaml'), 'name: mine\n');
    expect(await readOverlay(join(dir, 'ok.yaml'))).toEqual({ name: 'mine' });
  });

  it('names the file and the problem: missing, not YAML, not a mapping', async () => {
    await expect(readOverlay(join(dir, 'none.yaml'))).rejects.toMatchObject({ code: 'USAGE_INVALID', message: `--with ${join(dir, 'none.yaml')}: cannot read it` });
    await writeFile(join(dir, 'bad.yaml'), 'name: [mine\n');
    await expect(readOverlay(join(dir, 'bad.yaml'))).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('not valid YAML') });
    await writeFile(join(dir, 'list.yaml'), '- name: mine\n');
    await expect(readOverlay(join(dir, 'list.yaml'))).rejects.toMatchObject({ message: `--with ${join(dir, 'list.yaml')}: holds a list, not a mapping of settings` });
    await writeFile(join(dir, 'empty.yaml'), '');
    await expect(readOverlay(join(dir, 'empty.yaml'))).rejects.toMatchObject({ message: `--with ${join(dir, 'empty.yaml')}: holds nothing, not a mapping of settings` });
  });
});
