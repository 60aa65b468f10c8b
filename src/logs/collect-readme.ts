/**
 * The texts `logs collect` writes beside the logs: README.txt at the top (what is where, how to read
 * the journal, which nodes and units, what could not be read), each node's
 * devstack.journal.README.txt (DevStack's roles/export-devstack-journal template, adapted: the file
 * lies in NODE/logs/ and `trace --from` reads it directly), and devcluster-clocks.json.
 */
import { screenName } from './collect-script.js';

/** One node's outcome, as the README and the CLI tell it. */
export interface NodeCollected {
  node: string;
  role: string;
  /** Collected: the devstack units found; skipped: why nothing was collected. */
  outcome: { kind: 'collected'; units: string[]; bytes: number; files: number } | { kind: 'skipped'; why: string };
  /** Things the gate would have that could not be read on this node. */
  missing: { what: string; why: string }[];
  /** Guest clock minus host clock, seconds, when it could be measured. */
  offsetSeconds?: number;
}

export interface CollectSummary {
  cluster: string;
  /** ISO time the collection started. */
  collectedAt: string;
  nodes: NodeCollected[];
}

/** Every "could not read" line: the node, then what and why. The CLI prints the same lines. */
export function problemLines(summary: CollectSummary): string[] {
  const lines: string[] = [];
  for (const n of summary.nodes) {
    if (n.outcome.kind === 'skipped') lines.push(`${n.node}: nothing collected: ${n.outcome.why}`);
    for (const m of n.missing) lines.push(`${n.node}: could not read ${m.what}: ${m.why}`);
  }
  return lines;
}

export function collectReadme(summary: CollectSummary): string {
  const problems = problemLines(summary);
  const out = [
    `Logs of devcluster cluster ${summary.cluster}, collected ${summary.collectedAt} by \`devcluster logs collect\`.`,
    '',
    "The layout is the gate's (a Zuul DevStack job's build logs), one folder per node:",
    '',
    '  NODE/logs/local_conf.txt             local.conf (holds the cluster\'s passwords: keep this folder private)',
    '  NODE/logs/.localrc_auto.txt, _stackenv.txt   the localrc stack.sh extracted, its saved environment',
    '  NODE/logs/devstacklog.txt            the stack.sh log (DevStack\'s LOGFILE); .summary beside it',
    '  NODE/logs/screen-UNIT.txt            one per devstack@UNIT systemd unit: journalctl -o short-precise --unit devstack@UNIT.service',
    '  NODE/logs/syslog.txt                 kernel and sudo messages: journalctl -t kernel -t sudo',
    '  NODE/logs/devstack.journal.gz        the node\'s whole journal in export format (journalctl -o export | gzip);',
    '                                       devstack.journal.README.txt beside it says how to read it',
    '  NODE/logs/etc/PROJECT/…              /etc/PROJECT of each OpenStack service (and /etc/openstack);',
    '                                       NAME.conf is renamed NAME_conf.txt (also .log, .localrc, .stackenv, .auto) as the gate does',
    '  NODE/logs/dpkg-l.txt, pip3-freeze.txt, df.txt, services.txt   packages, Python packages, disk, systemd units',
    '  NODE/logs/libvirt, sudoers, rabbitmq, … system logs and configuration the gate copies, where present',
    '  NODE/logs/devcluster/STEP_log.txt    devcluster\'s own log of each provisioning step (passwords masked)',
    '  NODE/logs/old/, NODE/logs/new/       grenade mode: each side\'s local.conf and stack.sh log',
    '  devcluster-clocks.json               each node\'s clock minus the host\'s, in seconds, measured at collection',
    '',
    'Reading the journal with request ids (oslo.log puts REQUEST_ID in every entry when DevStack runs with',
    'USE_JOURNAL=True):',
    '',
    '  devcluster trace REQ_ID --from THIS_FOLDER     one request across every node, clocks corrected',
    '  /lib/systemd/systemd-journal-remote <(zcat NODE/logs/devstack.journal.gz) -o /tmp/NODE.journal',
    '  journalctl --file /tmp/NODE.journal -u \'devstack@n-api\' REQUEST_ID=req-…',
    '',
    'Nodes:',
    '',
  ];
  for (const n of summary.nodes) {
    const clock = n.offsetSeconds === undefined ? 'clock not measured' : `clock ${n.offsetSeconds >= 0 ? '+' : ''}${n.offsetSeconds.toFixed(3)} s against the host`;
    if (n.outcome.kind === 'skipped') {
      out.push(`  ${n.node} (${n.role}): NOT COLLECTED: ${n.outcome.why}`);
      continue;
    }
    out.push(`  ${n.node} (${n.role}): ${n.outcome.files} files, ${clock}`);
    out.push(`    devstack units (${n.outcome.units.length}): ${n.outcome.units.length === 0 ? 'none' : n.outcome.units.map(screenName).join(', ')}`);
  }
  out.push('', problems.length === 0 ? 'Everything the gate would have was read.' : `Could not be read (${problems.length}):`, '');
  for (const p of problems) out.push(`  ${p}`);
  return `${out.join('\n').trimEnd()}\n`;
}

/** DevStack's devstack.journal.README.txt.j2, with the paths of a collected folder. */
export function journalReadme(node: string): string {
  return `Devstack systemd journal
========================

devstack.journal.gz is a copy of the systemd journal of node ${node}, in
journalctl's export format (journalctl -o export | gzip), as the gate's
export-devstack-journal role makes it.

To use it, you will need to convert it so journalctl can read it
locally:

 $ /lib/systemd/systemd-journal-remote <(zcat ./devstack.journal.gz) -o output.journal

Note this binary is not in the regular path.  On Debian/Ubuntu
platforms, you will need to have the "systemd-journal-remote" package
installed.

It should result in something like:

 Finishing after writing <large number> entries

You can then use journalctl to examine this file.  For example, to see
all devstack services try:

 $ journalctl --file ./output.journal -u 'devstack@*'

To see just the nova API server logs restrict the match with

 $ journalctl --file ./output.journal -u 'devstack@n-api'

There may be many types of logs available in the journal, a command like

 $ journalctl --file ./output.journal --output=json-pretty | grep "_SYSTEMD_UNIT" | sort -u

can help you find interesting things to filter on.

\`devcluster trace REQ_ID --from <the collected folder>\` does the conversion
itself and follows one request across every node's journal.
`;
}
