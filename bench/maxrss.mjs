// Preloaded into the devcluster CLI by the memory benchmark (NODE_OPTIONS=--import; plain JS so the
// measured process loads nothing more than itself): writes the
// process's peak resident set size (KiB, from getrusage) to $DC_BENCH_RSS_FILE when it exits.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.DC_BENCH_RSS_FILE) writeFileSync(process.env.DC_BENCH_RSS_FILE, `${process.resourceUsage().maxRSS}\n`);
});
