/**
 * The Jinja templates a Zuul inventory's variables hold, rendered the way Ansible renders them for
 * one host: `{{ hostvars['controller']['nodepool']['private_ipv4'] }}`, `{{ external_bridge_mtu }}`,
 * `{{ groups['compute'] | default(['controller']) | length }}`, `{{ devstack_bases.old }}`,
 * `{{ a.shared | combine(a.old) }}`. Only that subset: names, `.attr` and `[key]` lookups, string,
 * number and list literals, `+`/`-`, and the filters default/d, length/count, int, string, lower, upper,
 * trim, join, combine, bool. A template outside it, or naming a variable nobody set, is left as written
 * and listed in `unresolved` (so a caller shows it, never guesses). As with Ansible's default (non-native)
 * Jinja, a result is text, except a template that is one whole expression giving a dict or list.
 * Strings found through a lookup are rendered in turn (depth-limited), all in the one host's context.
 */
import { pyStr } from './python-str.js';
import { isRecord } from './is-record.js';

export interface TemplateContext {
  /** The host's variables (job < group < host vars already merged). */
  vars: Record<string, unknown>;
  /** Ansible's magic variables: `hostvars`, `groups`, `inventory_hostname`, and facts the caller supplies. */
  magic?: Record<string, unknown>;
}

export interface Rendered<T> {
  value: T;
  /** Each template that could not be rendered, as written. */
  unresolved: string[];
}

class Undefined {
  constructor(readonly name: string) {}
}

class Unsupported extends Error {}

type Token = { kind: 'str' | 'num' | 'name' | 'op'; text: string; value?: unknown };

const MAX_DEPTH = 10;

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let out = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && j + 1 < expr.length) {
          const next = expr[j + 1] as string;
          out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          j += 2;
        } else out += expr[j++];
      }
      if (j >= expr.length) throw new Unsupported('unterminated string');
      tokens.push({ kind: 'str', text: expr.slice(i, j + 1), value: out });
      i = j + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(expr.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'num', text: m[0], value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'name', text: m[0] });
      i += m[0].length;
    } else if ('[](),.|+-'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
    } else {
      throw new Unsupported(`operator ${c}`);
    }
  }
  return tokens;
}

class Evaluator {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly lookup: (name: string) => unknown,
    /** Renders a string found by a lookup; other values come back as they are. */
    private readonly render: (value: unknown) => unknown,
  ) {}

  run(): unknown {
    const value = this.expression();
    if (this.pos !== this.tokens.length) throw new Unsupported(`unexpected ${this.tokens[this.pos]?.text}`);
    return value;
  }

  private peek(text?: string): Token | undefined {
    const t = this.tokens[this.pos];
    return t && (text === undefined || (t.kind === 'op' && t.text === text) || (t.kind === 'name' && t.text === text)) ? t : undefined;
  }

  private expect(text: string): void {
    if (!this.peek(text)) throw new Unsupported(`expected ${text}`);
    this.pos++;
  }

  private expression(): unknown {
    let left = this.filtered();
    while (this.peek('+') || this.peek('-')) {
      const op = (this.tokens[this.pos++] as Token).text;
      const right = this.filtered();
      if (left instanceof Undefined) throw left;
      if (right instanceof Undefined) throw right;
      if (op === '+' && typeof left === 'string' && typeof right === 'string') left = left + right;
      else if (op === '+' && Array.isArray(left) && Array.isArray(right)) left = [...left, ...right];
      else if (typeof left === 'number' && typeof right === 'number') left = op === '+' ? left + right : left - right;
      else throw new Unsupported(`${op} on ${typeof left} and ${typeof right}`);
    }
    return left;
  }

  private filtered(): unknown {
    let value = this.postfix();
    while (this.peek('|')) {
      this.pos++;
      const name = this.tokens[this.pos++];
      if (!name || name.kind !== 'name') throw new Unsupported('filter name');
      const args: unknown[] = [];
      if (this.peek('(')) {
        this.pos++;
        while (!this.peek(')')) {
          args.push(this.expression());
          if (this.peek(',')) this.pos++;
          else if (!this.peek(')')) throw new Unsupported('filter arguments');
        }
        this.pos++;
      }
      value = applyFilter(name.text, value, args);
    }
    return value;
  }

  private postfix(): unknown {
    let value = this.primary();
    for (;;) {
      if (this.peek('.')) {
        this.pos++;
        const name = this.tokens[this.pos++];
        if (!name || name.kind !== 'name') throw new Unsupported('attribute name');
        value = this.index(value, name.text);
      } else if (this.peek('[')) {
        this.pos++;
        const key = this.expression();
        this.expect(']');
        if (key instanceof Undefined) throw key;
        value = this.index(value, key);
      } else return value;
    }
  }

  /** Containers stay as they are until the end (only what is picked is rendered). */
  private index(value: unknown, key: unknown): unknown {
    if (value instanceof Undefined) return value;
    if (Array.isArray(value) && typeof key === 'number') return key in value ? this.render(value[key]) : new Undefined(String(key));
    if (isRecord(value) && (typeof key === 'string' || typeof key === 'number') && Object.hasOwn(value, String(key))) return this.render(value[String(key)]);
    return new Undefined(String(key));
  }

  private primary(): unknown {
    const t = this.tokens[this.pos++];
    if (!t) throw new Unsupported('empty expression');
    if (t.kind === 'str' || t.kind === 'num') return t.value;
    if (t.kind === 'name') {
      if (t.text === 'true' || t.text === 'True') return true;
      if (t.text === 'false' || t.text === 'False') return false;
      if (t.text === 'none' || t.text === 'None') return null;
      return this.render(this.lookup(t.text));
    }
    if (t.text === '(') {
      const v = this.expression();
      this.expect(')');
      return v;
    }
    if (t.text === '[') {
      const items: unknown[] = [];
      while (!this.peek(']')) {
        items.push(this.expression());
        if (this.peek(',')) this.pos++;
        else if (!this.peek(']')) throw new Unsupported('list');
      }
      this.pos++;
      return items;
    }
    if (t.text === '-') {
      const v = this.postfix();
      if (typeof v !== 'number') throw new Unsupported('unary minus');
      return -v;
    }
    throw new Unsupported(`unexpected ${t.text}`);
  }
}

function applyFilter(name: string, value: unknown, args: unknown[]): unknown {
  if (name === 'default' || name === 'd') {
    const useIfFalsy = args[1] === true;
    return value instanceof Undefined || (useIfFalsy && !value) ? args[0] ?? '' : value;
  }
  if (value instanceof Undefined) throw value;
  switch (name) {
    case 'length':
    case 'count':
      if (typeof value === 'string' || Array.isArray(value)) return value.length;
      if (isRecord(value)) return Object.keys(value).length;
      break;
    case 'int': {
      const n = typeof value === 'number' ? value : Number.parseInt(pyStr(value).trim(), 10);
      return Number.isNaN(n) ? (args[0] ?? 0) : Math.trunc(n);
    }
    case 'string':
      return pyStr(value);
    case 'lower':
      return pyStr(value).toLowerCase();
    case 'upper':
      return pyStr(value).toUpperCase();
    case 'trim':
      return pyStr(value).trim();
    case 'bool':
      return typeof value === 'boolean' ? value : ['yes', 'on', '1', 'true'].includes(pyStr(value).toLowerCase());
    case 'join':
      if (Array.isArray(value)) return value.map((x) => pyStr(x)).join(typeof args[0] === 'string' ? args[0] : '');
      break;
    case 'combine':
      if (isRecord(value) && args.every(isRecord)) return Object.assign({}, value, ...args);
      break;
  }
  throw new Unsupported(`filter ${name}`);
}

/**
 * The value with every template rendered for one host (see the header). Objects and arrays are
 * rendered through; non-string leaves come back as they are.
 */
export function renderTemplates<T>(value: T, context: TemplateContext): Rendered<T> {
  const unresolved: string[] = [];
  const lookup = (name: string): unknown => {
    if (Object.hasOwn(context.vars, name)) return context.vars[name];
    if (context.magic && Object.hasOwn(context.magic, name)) return context.magic[name];
    return new Undefined(name);
  };

  const renderString = (s: string, depth: number): unknown => {
    if (!s.includes('{{') && !s.includes('{%')) return s;
    if (depth > MAX_DEPTH || s.includes('{%')) {
      unresolved.push(s);
      return s;
    }
    const parts: ({ literal: string } | { expr: string })[] = [];
    let rest = s;
    while (rest.length > 0) {
      const open = rest.indexOf('{{');
      if (open < 0) {
        parts.push({ literal: rest });
        break;
      }
      const close = rest.indexOf('}}', open + 2);
      if (close < 0) {
        unresolved.push(s);
        return s;
      }
      if (open > 0) parts.push({ literal: rest.slice(0, open) });
      parts.push({ expr: rest.slice(open + 2, close) });
      rest = rest.slice(close + 2);
    }
    const values: unknown[] = [];
    try {
      for (const part of parts) {
        if ('literal' in part) values.push(part.literal);
        else {
          const v = new Evaluator(tokenize(part.expr), lookup, (x) => (typeof x === 'string' ? renderString(x, depth + 1) : x)).run();
          if (v instanceof Undefined) throw v;
          values.push(walk(v, depth + 1));
        }
      }
    } catch (error) {
      if (error instanceof Undefined || error instanceof Unsupported) {
        unresolved.push(s);
        return s;
      }
      throw error;
    }
    if (values.length === 1 && (Array.isArray(values[0]) || isRecord(values[0]))) return values[0];
    return values.map((x) => pyStr(x)).join('');
  };

  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return renderString(v, depth);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth));
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth)]));
    return v;
  };

  return { value: walk(value, 0) as T, unresolved: [...new Set(unresolved)] };
}
