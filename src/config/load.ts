/**
 * Loading devcluster.yaml: YAML with positions → shape (zod) → cross-field rules → the checks that
 * read files (SSH keys, local trees). Every problem is collected and reported at once, each as
 * FILE:LINE:COL path: message.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, DevclusterError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { checkRules } from './rules.js';
import { grenadeIssues } from './grenade.js';
import { formatPath, type ConfigIssue, type FieldPath } from './issue.js';
import { hasPath, locate } from './locate.js';
import { knownKeysAt, nearestKey } from './known-keys.js';
import { expandHome, resolveLocal } from '../fs/paths.js';
import { discoverUserKeys, isKeyLiteral, parsePublicKey, readKeyFile, type PublicKey } from './ssh-keys.js';

export const DEFAULT_CONFIG_FILE = 'devcluster.yaml';

export interface LoadedConfig {
  /** The file read, or undefined for the built-in default cluster. */
  file: string | undefined;
  /** Folder that relative paths in the config (and the state folder) are relative to. */
  baseDir: string;
  config: Config;
  /** The keys that will be authorized for the stack user, besides the cluster's own key. */
  userKeys: PublicKey[];
}

/** ConfigError lives with every other error class in src/errors.ts; re-exported for its importers. */
export { ConfigError };

export interface LoadOptions {
  /** -c/--config as given; undefined means ./devcluster.yaml if it exists, else the built-in default. */
  configPath?: string;
  cwd?: string;
  home?: string;
  /** ssh-agent socket for key discovery (default: $SSH_AUTH_SOCK). */
  agentSocket?: string | undefined;
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const home = options.home ?? homedir();
  const agentSocket = 'agentSocket' in options ? options.agentSocket : process.env.SSH_AUTH_SOCK;
  const explicit = options.configPath !== undefined;
  const file = resolve(cwd, expandHome(options.configPath ?? DEFAULT_CONFIG_FILE, home));

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DevclusterError('CONFIG_NOT_FOUND', `cannot read ${file}`, { cause: error, hint: 'check the file permissions' });
    }
    if (explicit) {
      throw new DevclusterError('CONFIG_NOT_FOUND', `config file ${file} does not exist`, {
        hint: 'create one with `devcluster init`, or leave out -c to use the built-in default cluster',
        cause: error,
      });
    }
    return parseConfigText('', { file: undefined, baseDir: cwd, home, agentSocket });
  }
  return parseConfigText(text, { file, baseDir: dirname(file), home, agentSocket });
}

interface ParseContext {
  file: string | undefined;
  baseDir: string;
  home: string;
  agentSocket: string | undefined;
}

/** Validate config text; `file` is only used in messages (undefined = built-in default). */
export async function parseConfigText(text: string, ctx: ParseContext): Promise<LoadedConfig> {
  const shownFile = ctx.file ?? '(built-in default)';
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      shownFile,
      doc.errors.map((error) => {
        const pos = counter.linePos(error.pos[0]);
        return { path: [], message: `YAML syntax: ${error.message.split('\n')[0]}`, line: pos.line, col: pos.col };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const pos = locate(doc, counter, []);
    throw new ConfigError(shownFile, [
      { path: [], message: 'the file must be a YAML mapping of keys such as name:, nodes:, devstack:', ...pos },
    ]);
  }

  const issues: ConfigIssue[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((issue) => fromZodIssue(issue, doc)));
  else issues.push(...checkRules(parsed.data), ...grenadeIssues(parsed.data, isLocalPath));

  const fileChecks = await checkFiles(raw as Record<string, unknown>, ctx);
  issues.push(...fileChecks.issues);

  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(shownFile, placeIssues(issues, doc, counter, raw));
  }
  const userKeys = fileChecks.keys ?? (await discoverUserKeys(ctx.home, ctx.agentSocket));
  return { file: ctx.file, baseDir: ctx.baseDir, config: parsed.data, userKeys };
}

/** Turn one zod issue into ours: unknown keys get one issue each, with the nearest known key. */
function fromZodIssue(issue: z.core.$ZodIssue, doc: Document): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(configSchema, path);
    return issue.keys.map((key) => {
      const near = nearestKey(key, known);
      const suggestion = near ? `did you mean "${near}"? ` : '';
      return {
        path: [...path, key],
        message: `unknown key "${key}": ${suggestion}known keys here: ${known.join(', ')}`,
        atKey: true,
      };
    });
  }
  if (!hasPath(doc, path)) {
    const why = issue.message.startsWith('Invalid input') ? '' : ` (${issue.message})`;
    return [{ path, message: `${formatPath(path.slice(-1))} is required here${why}` }];
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && message.startsWith('Invalid input')) {
    message = `${message.replace(/^Invalid input: /, '')}`;
  }
  return [{ path, message }];
}

/** Add positions and node names to issues. */
function placeIssues(issues: ConfigIssue[], doc: Document, counter: LineCounter, raw: unknown): ConfigIssue[] {
  const nodes = (raw as { nodes?: unknown }).nodes;
  return issues.map((issue) => {
    const atKey = issue.atKey === true;
    const pos = issue.line === undefined ? locate(doc, counter, issue.path, atKey) : undefined;
    let node = issue.node;
    if (node === undefined && issue.path[0] === 'nodes' && typeof issue.path[1] === 'number' && Array.isArray(nodes)) {
      const name = (nodes[issue.path[1]] as { name?: unknown } | undefined)?.name;
      if (typeof name === 'string') node = name;
    }
    const placed: ConfigIssue = { path: issue.path, message: issue.message };
    const line = issue.line ?? pos?.line;
    const col = issue.col ?? pos?.col;
    if (line !== undefined) placed.line = line;
    if (col !== undefined) placed.col = col;
    if (node !== undefined) placed.node = node;
    return placed;
  });
}

const REMOTE = /^([a-z][a-z0-9+.-]*:\/\/|[\w.-]+@[\w.-]+:)/i;

/** Whether a devstack.repo or source is a path on this machine rather than a URL or a ref. */
export function isLocalPath(value: string): boolean {
  return !REMOTE.test(value) && !value.startsWith('refs/');
}

/** Checks that read the disk: SSH keys named in the config, local DevStack and project trees. */
async function checkFiles(raw: Record<string, unknown>, ctx: ParseContext): Promise<{ issues: ConfigIssue[]; keys?: PublicKey[] }> {
  const issues: ConfigIssue[] = [];
  let keys: PublicKey[] | undefined;

  const stackUser = raw.stack_user as { ssh_public_keys?: unknown } | undefined;
  const entries = stackUser?.ssh_public_keys;
  if (Array.isArray(entries)) {
    keys = [];
    for (const [i, entry] of entries.entries()) {
      if (typeof entry !== 'string') continue;
      const path: FieldPath = ['stack_user', 'ssh_public_keys', i];
      const result = isKeyLiteral(entry) ? parsePublicKey(entry, 'config') : await readKeyFile(entry, ctx.baseDir, ctx.home);
      if (result instanceof Error) issues.push({ path, message: result.message });
      else keys.push(...(Array.isArray(result) ? result : [result]));
    }
  }

  const devstack = raw.devstack as { repo?: unknown; sources?: unknown } | undefined;
  const localTree = async (value: string, path: FieldPath, what: string) => {
    const full = resolveLocal(value, ctx);
    try {
      if (!(await stat(full)).isDirectory()) {
        issues.push({ path, message: `${full} is not a folder: ${what}` });
        return;
      }
      await access(resolve(full, '.git')).catch(async () => access(resolve(full, 'HEAD')));
    } catch {
      issues.push({ path, message: `${full} is not a git checkout: ${what}` });
    }
  };
  if (typeof devstack?.repo === 'string' && isLocalPath(devstack.repo)) {
    await localTree(devstack.repo, ['devstack', 'repo'], 'give a git URL or the path of a devstack checkout');
  }
  if (devstack?.sources && typeof devstack.sources === 'object') {
    for (const [project, value] of Object.entries(devstack.sources as Record<string, unknown>)) {
      if (typeof value === 'string' && isLocalPath(value)) {
        await localTree(value, ['devstack', 'sources', project], `give the path of a ${project} checkout or a refs/changes/… ref`);
      }
    }
  }
  return keys === undefined ? { issues } : { issues, keys };
}

/** Kept here for modules that still import it from config/; it lives in fs/paths.ts. */
export { resolveLocal };
