/**
 * The Jinja subset job variables use, rendered as Ansible renders them for a host, and what is left
 * unrendered (and said so) when a template goes beyond it or names a variable nobody set.
 */
import { describe, expect, it } from 'vitest';
import { renderTemplates } from './template.js';

const magic = {
  hostvars: { controller: { nodepool: { private_ipv4: '10.0.0.5' } }, compute1: { nodepool: { private_ipv4: '10.0.0.6' } } },
  groups: { all: ['controller', 'compute1'], compute: ['controller', 'compute1'], subnode: ['compute1'] },
  inventory_hostname: 'compute1',
};

const render = (value: unknown, vars: Record<string, unknown> = {}) => renderTemplates(value, { vars, magic });

describe('renderTemplates', () => {
  it('renders lookups, literal text around them, filters and arithmetic', () => {
    const vars = { mtu: '1450', bases: { old: '/opt/stack/old' } };
    expect(
      render(
        {
          a: "{{ hostvars['controller']['nodepool']['private_ipv4'] }}:9292",
          b: "{{ hostvars[inventory_hostname]['nodepool']['private_ipv4'] }}",
          c: "{{ groups['compute'] | default(['controller']) | length }}",
          d: "{{ groups['tempest'] | default(['controller']) | length }}",
          e: '{{ bases.old }}/logs',
          f: '{{ devstack_libvirt_type | default("qemu") }}',
          g: '{{ mtu | int - 30 - 40 }}',
          h: 'plain',
          i: ["{{ groups.subnode | join(',') }}", 7, true],
        },
        vars,
      ).value,
    ).toEqual({ a: '10.0.0.5:9292', b: '10.0.0.6', c: '2', d: '1', e: '/opt/stack/old/logs', f: 'qemu', g: '1380', h: 'plain', i: ['compute1', 7, true] });
  });

  it('gives a dict back for one whole expression (combine), text otherwise; values print as Python does', () => {
    const vars = { l: { shared: { A: 1, B: 'x' }, old: { B: 'y' } }, flag: false, n: null };
    expect(render('{{ l.shared | combine(l.old) }}', vars).value).toEqual({ A: 1, B: 'y' });
    expect(render('v={{ flag }} {{ n }} {{ l.old }}', vars).value).toBe("v=False None {'B': 'y'}");
  });

  it('renders a variable whose value is itself a template, and stops a loop', () => {
    const vars = { a: '{{ b }}-a', b: '{{ c }}', c: 'C', loop1: '{{ loop2 }}', loop2: '{{ loop1 }}' };
    expect(render('{{ a }}', vars).value).toBe('C-a');
    const looped = render('{{ loop1 }}', vars);
    expect(looped.unresolved.length).toBeGreaterThan(0);
  });

  it('leaves unknown variables, unsupported syntax and statements as written, listing each', () => {
    const r = render({ a: '{{ nobody_set_this }}', b: "{{ x if y else 'z' }}", c: '{% if a %}1{% endif %}', d: '{{ groups.compute | map("upper") }}', e: 'ok' });
    expect(r.value).toEqual({ a: '{{ nobody_set_this }}', b: "{{ x if y else 'z' }}", c: '{% if a %}1{% endif %}', d: '{{ groups.compute | map("upper") }}', e: 'ok' });
    expect(r.unresolved.sort()).toEqual(['{% if a %}1{% endif %}', '{{ groups.compute | map("upper") }}', '{{ nobody_set_this }}', "{{ x if y else 'z' }}"].sort());
  });
});
