import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { checkPasswordHash } from './crypt.js';

const openssl = (...args: string[]) => execFileSync('openssl', ['passwd', ...args], { input: 'secret\n' }).toString().trim();

describe('password hashes', () => {
  it('accepts what openssl passwd makes (SHA-512 and SHA-256 crypt)', () => {
    expect(checkPasswordHash(openssl('-6', '-stdin'))).toEqual({ ok: true, scheme: 'sha512crypt' });
    expect(checkPasswordHash(openssl('-5', '-stdin'))).toEqual({ ok: true, scheme: 'sha256crypt' });
  });
  it('accepts yescrypt and bcrypt hashes', () => {
    expect(checkPasswordHash('$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7').ok).toBe(true);
    expect(checkPasswordHash('$2b$12$EXRkfkdmXn2gzds2SSitu.MW9.gAVqa9eLS1//RYtYCmB1eLHg.9q').ok).toBe(true);
  });
  it('refuses plaintext, MD5 and truncated hashes and says how to make one', () => {
    for (const value of ['secretsecret', openssl('-1', '-stdin'), '$6$abc']) {
      const check = checkPasswordHash(value);
      expect(check.ok).toBe(false);
      expect(check.ok ? '' : check.reason).toContain('openssl passwd -6');
    }
  });
});
