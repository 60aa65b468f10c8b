/**
 * Every error class of devcluster, in this one file. Every failure a user can meet is a DevclusterError
 * with a stable `code`, a message that says what happened, a `hint` that says what to do, and the
 * underlying cause; the subclasses add fields callers match on (a host command's output, a config's
 * issues, a step's exit code). Only src/cli/ turns these into output and exit codes.
 */
import { formatIssue, type ConfigIssue } from './config/issue.js';

/** Every stable error code, in one list (the README's list is checked against it). */
export const ERROR_CODES = [
  'USAGE_INVALID',
  'CONFIG_INVALID',
  'CONFIG_NOT_FOUND',
  'CONFIG_EXISTS',
  'VAGRANT_CONFIG_INVALID',
  'STATE_INVALID',
  'STATE_LOCKED',
  'LOCK_TIMEOUT',
  'IMAGE_DOWNLOAD_FAILED',
  'IMAGE_CHECKSUM_MISMATCH',
  'IMAGE_CHECKSUM_MISSING',
  'IMAGE_NOT_FOUND',
  'SEED_FAILED',
  'SSH_HOST_KEY_MISMATCH',
  'SSH_AUTH_FAILED',
  'SSH_UNREACHABLE',
  'SSH_COMMAND_FAILED',
  'SSH_UPLOAD_FAILED',
  'STEP_TIMEOUT',
  'PROVISION_STEP_FAILED',
  'PROVISION_CHECK_FAILED',
  'LIBVIRT_FAILED',
  'NODE_BOOT_FAILED',
  'NODE_NOT_FOUND',
  'NODE_NOT_RUNNING',
  'PROVIDER_UNAVAILABLE',
  'VBOX_FAILED',
  'VBOX_BROKEN',
  'VBOX_DRIVER_MISSING',
  'VBOX_KVM_CONFLICT',
  'VBOX_TOO_OLD',
  'VBOX_LOCKED',
  'SNAPSHOT_NOT_FOUND',
  'SNAPSHOT_EXISTS',
  'SNAPSHOT_FAILED',
  'SNAPSHOT_NO_SPACE',
  'SNAPSHOT_SHAPE_CHANGED',
  'SOURCE_FETCH_FAILED',
  'SOURCE_COMMIT_MISSING',
  'SOURCE_TREE_DIRTY',
  'CHANGE_REF_MISSING',
  'CHANGE_MERGE_FAILED',
  'HOST_TOOL_MISSING',
  'HOST_COMMAND_FAILED',
  'JOURNAL_QUERY_FAILED',
  'REPRODUCE_SOURCE_INVALID',
  'REPRODUCE_NOT_DEVSTACK',
  'REPRODUCE_HOST_TOO_SMALL',
  'LOGS_OUT_NOT_EMPTY',
  'LOGS_PARTIAL',
  'CANCELLED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Exit status for each kind of failure: 2 = bad usage or bad config (these codes), 1 = the operation
 * failed (every other code). A node that exists but is not running is NODE_NOT_RUNNING: exit 1.
 */
export const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['USAGE_INVALID', 'CONFIG_INVALID', 'CONFIG_NOT_FOUND', 'VAGRANT_CONFIG_INVALID', 'NODE_NOT_FOUND']);

export interface DevclusterErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra lines shown under the message (for example one line per config problem). */
  details?: readonly string[];
}

export class DevclusterError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: DevclusterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DevclusterError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

export function isDevclusterError(value: unknown): value is DevclusterError {
  return value instanceof DevclusterError;
}

/**
 * Ctrl-C met by an operation that finished what could not be left half done and says, in its message,
 * the state it left (e.g. a snapshot restore that completed): shown as it is, instead of the general
 * "interrupted: … stopped" line. Code CANCELLED, exit 130.
 */
export class InterruptedError extends DevclusterError {
  constructor(message: string, options: DevclusterErrorOptions = {}) {
    super('CANCELLED', message, options);
    this.name = 'InterruptedError';
  }
}

export interface HostCommandFailure {
  /** Program and arguments as run, secret arguments shown as `<redacted>`. */
  command: readonly string[];
  /** The exit status; undefined when the command was killed (budget spent, signal). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** True when the command ran out of its budget and was killed. */
  timedOut?: boolean;
}

/**
 * A host command (virsh, qemu-img, xorriso…) that ran and failed: code HOST_COMMAND_FAILED unless the
 * caller names a better one. The command, exit code and both outputs are fields (as execa keeps them),
 * so callers match on them instead of parsing `details`, which holds the output's tail for display.
 */
export class HostCommandError extends DevclusterError {
  readonly command: readonly string[];
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;

  constructor(failure: HostCommandFailure, message: string, options: DevclusterErrorOptions & { code?: ErrorCode } = {}) {
    super(options.code ?? 'HOST_COMMAND_FAILED', message, options);
    this.name = 'HostCommandError';
    this.command = failure.command;
    this.exitCode = failure.exitCode;
    this.stdout = failure.stdout;
    this.stderr = failure.stderr;
    this.timedOut = failure.timedOut ?? false;
  }
}

export function isHostCommandError(value: unknown): value is HostCommandError {
  return value instanceof HostCommandError;
}

/** A config file with problems: every issue, each shown as FILE:LINE:COL path: message. */
export class ConfigError extends DevclusterError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string;
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super('CONFIG_INVALID', `${file} has ${count}`, {
      details: issues.map((issue) => formatIssue(file, issue)),
      hint: 'fix the fields named above and run `devcluster config validate` again',
    });
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = file;
  }
}

/** A provisioning step that failed because a command exited non-zero: keeps what the engine's error shows. */
export class StepCommandError extends DevclusterError {
  constructor(
    readonly exitCode: number,
    readonly tail: readonly string[],
    message: string,
    hint?: string,
  ) {
    super('SSH_COMMAND_FAILED', message, hint === undefined ? {} : { hint });
    this.name = 'StepCommandError';
  }
}
