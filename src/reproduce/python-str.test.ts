/**
 * Python's str() of inventory values, checked against python3 itself: what a local.conf line shows
 * for a boolean, None, an integer, a float, a string in a list, a dict.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pyFloatRepr, pyStr } from './python-str.js';

function python(expression: string): string {
  return execFileSync('python3', ['-c', `import sys; sys.stdout.write(str(${expression}))`], { encoding: 'utf8', timeout: 30_000 });
}

describe('pyStr', () => {
  it('prints floats as Python does, fixed or scientific by the exponent', () => {
    const floats = ['1.0', '0.5', '2.50', '0.1', '1e-05', '0.0001', '123456789012345.6', '1e16', '1.5e+20', '-3.25', '-0.0', '1e300', '5e-324'];
    for (const f of floats) expect(pyFloatRepr(Number(f)), f).toBe(python(`float('${f}')`));
    expect(pyFloatRepr(Number.NaN)).toBe(python("float('nan')"));
    expect(pyFloatRepr(-Infinity)).toBe(python("float('-inf')"));
  });

  it('prints booleans, None, integers, and containers in repr (quotes chosen as Python chooses)', () => {
    expect(pyStr(true)).toBe(python('True'));
    expect(pyStr(null)).toBe(python('None'));
    expect(pyStr(12345678901234567890n)).toBe(python('12345678901234567890'));
    expect(pyStr(8)).toBe(python('8'));
    expect(pyStr(['a', "it's", 'say "hi"', 'both \' and "', 'tab\there', 1, false, null])).toBe(python(`['a', "it's", 'say "hi"', 'both \\' and "', 'tab\\there', 1, False, None]`));
    expect(pyStr({ k: 'v', n: { x: [1.5] } })).toBe(python("{'k': 'v', 'n': {'x': [1.5]}}"));
    expect(pyStr('plain text')).toBe('plain text');
  });
});
