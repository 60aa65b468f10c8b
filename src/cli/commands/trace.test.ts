/**
 * What `trace` prints: the text timeline (aligned columns on the host's clock, a multi-line message
 * indented under its row), the --json line of an entry, and the notes on stderr (clocks, nodes left
 * out, a cut, nothing found).
 */
import { describe, expect, it } from 'vitest';
import { parseJournalLine } from '../../logs/journal.js';
import { onHostClock } from '../../logs/merge.js';
import type { TracedEntry } from '../../logs/trace.js';
import type { ClusterTrace } from '../../cluster/trace.js';
import { entryJson, formatTrace, traceNotes } from './trace.js';

const ID = 'req-5e5e5e5e-0000-4000-8000-000000000001';

function traced(node: string, unit: string, nodeUs: bigint, offsetSeconds: number, message: string, priority = 6): TracedEntry {
  const line = JSON.stringify({ __CURSOR: `s=1;i=${node.length}`, __REALTIME_TIMESTAMP: String(nodeUs), MESSAGE: message, PRIORITY: String(priority), _SYSTEMD_UNIT: `devstack@${unit}.service`, REQUEST_ID: ID });
  const entry = parseJournalLine(line, node);
  if (!entry) throw new Error('no entry');
  return { ...onHostClock(entry, offsetSeconds), ids: [ID] };
}

const API = traced('controller', 'n-api', 1764568800_123_456n, 0, `INFO nova.api [- ${ID}] POST /servers`);
const CPU = traced('compute1', 'n-cpu', 1764568807_250_000n, 7, `ERROR nova.compute.manager [- ${ID}] Instance failed to spawn\nTraceback (most recent call last):\n  File "x.py"`, 3);

describe('trace output', () => {
  it('text: node, unit, host-clock time (ms), level, message; further lines of a message indented', () => {
    expect(formatTrace([API, CPU]).split('\n')).toEqual([
      `controller  n-api  2025-12-01T06:00:00.123Z  INFO   INFO nova.api [- ${ID}] POST /servers`,
      `compute1    n-cpu  2025-12-01T06:00:00.250Z  ERROR  ERROR nova.compute.manager [- ${ID}] Instance failed to spawn`,
      '    Traceback (most recent call last):',
      '      File "x.py"',
    ]);
  });

  it('--json: host time and node time, the offset applied, the ids, the cursor', () => {
    expect(JSON.parse(entryJson(CPU))).toEqual({
      node: 'compute1',
      unit: 'n-cpu',
      time: '2025-12-01T06:00:00.250Z',
      nodeTime: '2025-12-01T06:00:07.250Z',
      offsetSeconds: 7,
      level: 'ERROR',
      requestId: ID,
      ids: [ID],
      message: CPU.entry.message,
      cursor: 's=1;i=8',
    });
  });

  it('notes: clocks, a node left out, a cut, and a trace that found nothing', () => {
    const result: ClusterTrace = {
      ids: [ID],
      entries: [API, CPU],
      rounds: 1,
      cut: 'stopped after 1 rounds (the budget): 1 request id not followed (req-x)',
      failed: [{ node: 'compute2', reason: 'journalctl on compute2 failed (exit 1): boom' }],
      clocks: [
        { node: 'controller', offsetSeconds: -0.0123, source: 'measured', roundTripMs: 81 },
        { node: 'compute1', offsetSeconds: 7, source: 'assumed' },
      ],
      skipped: [{ node: 'compute3', reason: 'it is shut off, not running' }],
      notes: [],
    };
    expect(traceNotes(ID, result)).toEqual([
      'clocks against the host, subtracted: controller -0.012 s (±41 ms), compute1 +7.000 s (assumed)',
      'compute3: not traced: it is shut off, not running',
      'compute2: not traced from then on: journalctl on compute2 failed (exit 1): boom',
      'trace cut short: stopped after 1 rounds (the budget): 1 request id not followed (req-x)',
      `2 entries on 2 nodes; request ids followed in 1 round: ${ID}`,
    ]);
    const { cut: _cut, ...uncut } = result;
    expect(traceNotes(ID, { ...uncut, entries: [], failed: [], skipped: [] })).toEqual([
      'clocks against the host, subtracted: controller -0.012 s (±41 ms), compute1 +7.000 s (assumed)',
      `no journal entry on 2 nodes names ${ID}`,
    ]);
  });
});
