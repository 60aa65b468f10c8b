/** README.txt and devcluster-clocks.json of a collected folder. */
import { describe, expect, it } from 'vitest';
import { clocksJson } from './journal-source.js';
import { collectReadme, journalReadme, problemLines, type CollectSummary } from './collect-readme.js';

const summary: CollectSummary = {
  cluster: 'dev',
  collectedAt: '2026-12-01T06:00:00.000Z',
  nodes: [
    { node: 'controller', role: 'controller', offsetSeconds: -0.0123, missing: [], outcome: { kind: 'collected', units: ['devstack@n-api.service', 'devstack@key.service'], bytes: 1000, files: 12 } },
    { node: 'compute1', role: 'compute', offsetSeconds: 2.5, missing: [{ what: '/opt/stack/devstack/local.conf', why: 'no such file' }], outcome: { kind: 'collected', units: [], bytes: 10, files: 3 } },
    { node: 'compute2', role: 'compute', missing: [], outcome: { kind: 'skipped', why: 'the node is stopped' } },
  ],
};

describe('collect README', () => {
  it('names every node with its units and clock, and every thing not read, once each', () => {
    const text = collectReadme(summary);
    expect(text).toContain('  controller (controller): 12 files, clock -0.012 s against the host\n    devstack units (2): screen-n-api.txt, screen-key.txt\n');
    expect(text).toContain('  compute1 (compute): 3 files, clock +2.500 s against the host\n    devstack units (0): none\n');
    expect(text).toContain('  compute2 (compute): NOT COLLECTED: the node is stopped\n');
    expect(text).toContain('Could not be read (2):\n\n  compute1: could not read /opt/stack/devstack/local.conf: no such file\n  compute2: nothing collected: the node is stopped\n');
    expect(problemLines(summary)).toEqual(['compute1: could not read /opt/stack/devstack/local.conf: no such file', 'compute2: nothing collected: the node is stopped']);
  });

  it('says so when everything was read', () => {
    const all: CollectSummary = { ...summary, nodes: [summary.nodes[0] as CollectSummary['nodes'][number]] };
    expect(collectReadme(all)).toContain('Everything the gate would have was read.');
    expect(problemLines(all)).toEqual([]);
  });

  it("keeps DevStack's journal README commands, for this node", () => {
    const text = journalReadme('compute1');
    expect(text).toContain('node compute1');
    expect(text).toContain('/lib/systemd/systemd-journal-remote <(zcat ./devstack.journal.gz) -o output.journal');
    expect(text).toContain("journalctl --file ./output.journal -u 'devstack@*'");
  });

  it('writes clocks as trace --from reads them', () => {
    expect(JSON.parse(clocksJson('2026-12-01T06:00:00.000Z', { controller: 0.01, compute1: -3 }))).toEqual({
      measuredAt: '2026-12-01T06:00:00.000Z',
      nodes: { controller: { offsetSeconds: 0.01 }, compute1: { offsetSeconds: -3 } },
    });
  });
});
