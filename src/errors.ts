/**
 * The one error type of devcluster. Every failure a user can meet carries a stable `code`, a message
 * that says what happened, a `hint` that says what to do, and the underlying cause.
 * Only src/cli/ turns these into output and exit codes.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_EXISTS'
  | 'VAGRANT_CONFIG_INVALID'
  | 'STATE_INVALID'
  | 'STATE_LOCKED'
  | 'LOCK_TIMEOUT'
  | 'IMAGE_DOWNLOAD_FAILED'
  | 'IMAGE_CHECKSUM_MISMATCH'
  | 'IMAGE_CHECKSUM_MISSING'
  | 'IMAGE_NOT_FOUND'
  | 'SEED_FAILED'
  | 'SSH_HOST_KEY_MISMATCH'
  | 'SSH_AUTH_FAILED'
  | 'SSH_UNREACHABLE'
  | 'SSH_COMMAND_FAILED'
  | 'SSH_UPLOAD_FAILED'
  | 'STEP_TIMEOUT'
  | 'PROVISION_STEP_FAILED'
  | 'PROVISION_CHECK_FAILED'
  | 'SOURCE_INVALID'
  | 'LIBVIRT_FAILED'
  | 'NODE_BOOT_FAILED'
  | 'NODE_NOT_FOUND'
  | 'PROVIDER_UNAVAILABLE'
  | 'VBOX_FAILED'
  | 'VBOX_BROKEN'
  | 'VBOX_DRIVER_MISSING'
  | 'VBOX_KVM_CONFLICT'
  | 'VBOX_TOO_OLD'
  | 'VBOX_LOCKED'
  | 'HOST_TOOL_MISSING'
  | 'HOST_COMMAND_FAILED'
  | 'CANCELLED'
  | 'INTERNAL';

/** Exit status for each kind of failure: 2 = bad usage or bad config, 1 = the operation failed. */
export const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID', 'CONFIG_NOT_FOUND', 'VAGRANT_CONFIG_INVALID', 'NODE_NOT_FOUND']);

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
