/**
 * Python's str() and repr() of the values a YAML inventory holds, so text devcluster writes from
 * job variables reads as what DevStack's Ansible module (Python) wrote: True/False/None, integers,
 * floats as Python prints them (1.0, 1e-05, 1e+16), lists and dicts in Python's repr.
 */

/** Python's repr() of a float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  // Shortest digits that round-trip (as Python's repr), then Python's layout: fixed notation for
  // exponents -4..15, scientific (two-digit exponent at least) otherwise.
  const [mantissa = '0', expText = '0'] = x.toExponential().split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${whole}.${frac === '' ? '0' : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function pyStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

function pyNumber(n: number): string {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 53 ? String(n) : pyFloatRepr(n);
}

/** Python's repr(). */
export function pyRepr(value: unknown): string {
  if (typeof value === 'string') return pyStringRepr(value);
  return pyStr(value, true);
}

/** Python's str() (numbers that are not integers print as Python floats). */
export function pyStr(value: unknown, inContainer = false): string {
  if (typeof value === 'string') return inContainer ? pyStringRepr(value) : value;
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return pyNumber(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
  return String(value);
}
