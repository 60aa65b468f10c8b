/** Paths as users write them: `~` for the home folder, relative to the folder of the file that names them. */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** `~` and `~/…` under `home`; any other path as it is. */
export function expandHome(path: string, home = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

/** A path from the config (or a file it names) made absolute: `~` expanded, relative to `baseDir`. */
export function resolveLocal(value: string, ctx: { baseDir: string; home: string }): string {
  const expanded = expandHome(value, ctx.home);
  return isAbsolute(expanded) ? expanded : resolve(ctx.baseDir, expanded);
}
