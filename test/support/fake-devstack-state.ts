/**
 * What the fake DevStack (test/fixtures/fake-devstack) leaves on a node, read over `devcluster ssh`
 * by the real-guest tests: each stack.sh run's timeline, and the fake cloud post-stack works on.
 */
import { expect } from 'vitest';
import type { CliRun } from './cli-cluster.js';

/** One line of the fake stack.sh's timeline (/opt/stack/logs/fake-timeline): start, fail or done. */
export interface Timeline {
  what: string;
  t: number;
  host: string;
}
/** NODE's timeline, read over `devcluster ssh`. */
export async function timeline(run: CliRun, node: string): Promise<Timeline[]> {
  const r = await run('ssh', node, '--', 'cat /opt/stack/logs/fake-timeline');
  return r.stdout.trim().split('\n').map((l) => {
    const [what, t, host] = l.split(' ');
    return { what: what as string, t: Number(t), host: host as string };
  });
}

/** The fake cloud's state on the controller (/opt/stack/data/fake/openstack.json), as far as post-stack touches it. */
export interface FakeCloud {
  images: Array<{ name: string; visibility: string; disk_format: string }>;
  keypairs: Array<{ name: string; user_id: string }>;
  users: Array<{ id: string; name: string }>;
  projects: Array<{ id: string; name: string }>;
  security_groups: Array<{ id: string; name: string; project_id: string }>;
  security_group_rules: Array<{ security_group_id: string; direction: string; protocol: string | null; port_range_min: number | null; ethertype: string }>;
}
export async function fakeCloud(run: CliRun): Promise<FakeCloud> {
  const r = await run('ssh', 'controller', '--', 'cat /opt/stack/data/fake/openstack.json');
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as FakeCloud;
}

/** What the post-stack steps made, in a form that compares equal when nothing changed. */
export function madeByPostStack(cloud: FakeCloud) {
  const user = (id: string) => cloud.users.find((u) => u.id === id)?.name;
  const project = (id: string) => cloud.projects.find((p) => p.id === id)?.name;
  const groups = new Map(cloud.security_groups.map((g) => [g.id, `${project(g.project_id)}/${g.name}`]));
  return {
    images: cloud.images.map((i) => `${i.name} ${i.visibility} ${i.disk_format}`).sort(),
    keypairs: cloud.keypairs.map((k) => `${user(k.user_id)}/${k.name}`).sort(),
    rules: cloud.security_group_rules
      .filter((r) => r.direction === 'ingress' && r.protocol !== null)
      .map((r) => `${groups.get(r.security_group_id)} ${r.protocol}${r.port_range_min === null ? '' : `/${r.port_range_min}`}`)
      .sort(),
  };
}
