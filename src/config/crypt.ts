/**
 * crypt(3) password hashes, as /etc/shadow and cloud-init's `passwd` take them. The schemes are those
 * of libxcrypt: yescrypt ($y$), gost-yescrypt ($gy$), scrypt ($7$), bcrypt ($2b$, $2a$, $2y$),
 * SHA-512 ($6$), SHA-256 ($5$). MD5 ($1$) and DES are refused as broken.
 */
const HASH_PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ['yescrypt', /^\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]*\$[./0-9A-Za-z]{43}$/],
  ['gost-yescrypt', /^\$gy\$[./0-9A-Za-z]+\$[./0-9A-Za-z]*\$[./0-9A-Za-z]{43}$/],
  ['scrypt', /^\$7\$[./0-9A-Za-z]{11,}\$[./0-9A-Za-z]{43}$/],
  ['bcrypt', /^\$2[aby]\$\d{2}\$[./0-9A-Za-z]{53}$/],
  ['sha512crypt', /^\$6\$(rounds=\d+\$)?[^$:\n]{1,16}\$[./0-9A-Za-z]{86}$/],
  ['sha256crypt', /^\$5\$(rounds=\d+\$)?[^$:\n]{1,16}\$[./0-9A-Za-z]{43}$/],
];

export const MAKE_HASH_HINT =
  "make one with `openssl passwd -6` (or `mkpasswd -m yescrypt`, Debian package whois) and paste its output, quoted";

export type HashCheck = { ok: true; scheme: string } | { ok: false; reason: string };

export function checkPasswordHash(value: string): HashCheck {
  for (const [scheme, pattern] of HASH_PATTERNS) {
    if (pattern.test(value)) return { ok: true, scheme };
  }
  if (/^\$1\$/.test(value)) return { ok: false, reason: `is an MD5-crypt hash, which is too weak; ${MAKE_HASH_HINT}` };
  if (value.startsWith('$')) {
    return { ok: false, reason: `is not a complete crypt(3) hash ($6$, $5$, $y$, $2b$…); ${MAKE_HASH_HINT}` };
  }
  return { ok: false, reason: `looks like a plaintext password, which devcluster never stores; ${MAKE_HASH_HINT}` };
}
