/**
 * How progress looks: on a terminal one live line per download (bytes, rate, ETA), elsewhere a plain
 * line every 10 s, so CI logs stay readable. The nodes' output lines only with --follow, each prefixed
 * by node and step. Fed by the library's ProgressEvents.
 */
import type { ProgressEvent } from '../events.js';
import type { CliIO } from './io.js';

import { formatBytes } from '../config/units.js';

export { formatBytes };

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

interface Rate {
  startedAt: number;
  startBytes: number;
}

export interface ReporterOptions {
  /** Print the nodes' output lines (`line` events): --follow. */
  follow?: boolean;
  now?: () => number;
}

export function progressReporter(io: CliIO, options: ReporterOptions = {}): (event: ProgressEvent) => void {
  const now = options.now ?? Date.now;
  const rates = new Map<string, Rate>();
  let lastPlain = Number.NEGATIVE_INFINITY;
  let liveLine = false;
  const clearLive = () => {
    if (liveLine) io.errRaw('\r\x1b[2K');
    liveLine = false;
  };
  return (event) => {
    if (event.kind === 'note') {
      clearLive();
      io.err(`note: ${event.message}`);
      return;
    }
    if (event.kind === 'line') {
      if (!options.follow) return;
      clearLive();
      io.err(`[${event.node} ${event.step}] ${event.line}`);
      return;
    }
    if (event.kind === 'phase') {
      clearLive();
      io.err(`${event.label}: ${event.message}`);
      return;
    }
    const t = now();
    const rate = rates.get(event.label) ?? { startedAt: t, startBytes: event.bytes };
    rates.set(event.label, rate);
    const elapsed = (t - rate.startedAt) / 1000;
    const speed = elapsed > 0 ? (event.bytes - rate.startBytes) / elapsed : 0;
    const total = event.total;
    const pct = total ? ` (${Math.floor((event.bytes / total) * 100)}%)` : '';
    const eta = total && speed > 0 ? ` ETA ${formatDuration((total - event.bytes) / speed)}` : '';
    const resumed = event.resumedFrom > 0 ? `, resumed at ${formatBytes(event.resumedFrom)}` : '';
    const line = `${event.label}: ${formatBytes(event.bytes)}${total ? ` / ${formatBytes(total)}` : ''}${pct} ${formatBytes(speed)}/s${eta}${resumed}`;
    if (io.isTTY) {
      io.errRaw(`\r\x1b[2K${line}`);
      liveLine = true;
      if (total !== undefined && event.bytes >= total) {
        io.errRaw('\n');
        liveLine = false;
      }
    } else if (t - lastPlain >= 10_000 || (total !== undefined && event.bytes >= total)) {
      lastPlain = t;
      io.err(line);
    }
  };
}
