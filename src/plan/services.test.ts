import { describe, expect, it } from 'vitest';
import { planServices } from './services.js';

const none = { enable: [], disable: [] };

describe('service layers', () => {
  it('layer 1 boots servers: identity, images, compute, placement, OVN; no cinder', () => {
    const plan = planServices(1, none, []);
    for (const s of ['key', 'g-api', 'n-api', 'n-cpu', 'placement-api', 'q-svc', 'ovn-northd']) expect(plan.controller).toContain(s);
    expect(plan.controller).not.toContain('c-api');
    expect(plan.compute).toEqual(['n-cpu', 'placement-client', 'ovn-controller', 'ovs-vswitchd', 'ovsdb-server', 'q-ovn-agent']);
  });
  it('each layer adds to the one below', () => {
    expect(planServices(2, none, []).controller).toEqual(expect.arrayContaining(['c-api', 's-proxy', 'key']));
    expect(planServices(2, none, []).compute).toContain('c-vol');
    expect(planServices(3, none, []).plugins.map((p) => p.name)).toEqual(['barbican', 'ceilometer']);
    expect(planServices(4, none, []).plugins.map((p) => p.name)).toEqual(['barbican', 'ceilometer', 'heat', 'trove']);
  });
  it('enable adds on the controller, disable removes everywhere, user plugins override', () => {
    const plan = planServices(3, { enable: ['tls-proxy'], disable: ['c-vol', 'ceilometer'] }, [
      { name: 'barbican', url: 'https://example.org/barbican', ref: 'stable/2025.2' },
    ]);
    expect(plan.controller).toContain('tls-proxy');
    expect(plan.controller).not.toContain('c-vol');
    expect(plan.compute).not.toContain('c-vol');
    expect(plan.plugins).toEqual([{ name: 'barbican', url: 'https://example.org/barbican', ref: 'stable/2025.2', roles: ['controller'] }]);
    expect(plan.computeDisabled).toEqual([]);
    expect(plan.computeLocalrc).toEqual([]);
  });
  it('tls-proxy, once enabled, is on every node (the gate enables it on subnodes too)', () => {
    expect(planServices(1, { enable: ['tls-proxy'], disable: [] }, []).compute).toContain('tls-proxy');
    expect(planServices(1, none, []).compute).not.toContain('tls-proxy');
    expect(planServices(1, { enable: ['tls-proxy'], disable: ['tls-proxy'] }, []).compute).not.toContain('tls-proxy');
  });
  it("a plugin with a compute side is on the computes too, with its controller services kept off there; roles from the config win", () => {
    const plan = planServices(3, none, []);
    expect(plan.plugins.map((p) => [p.name, p.roles])).toEqual([['barbican', ['controller']], ['ceilometer', ['controller', 'compute']]]);
    expect(plan.computeDisabled).toEqual(expect.arrayContaining(['ceilometer-acentral', 'ceilometer-anotification']));
    expect(plan.computeLocalrc).toEqual(['CEILOMETER_BACKENDS=none']);
    const own = planServices(3, none, [{ name: 'ceilometer', url: 'https://example.org/c', roles: ['controller'] }, { name: 'networking-x', url: 'https://example.org/x', roles: ['compute'] }]);
    expect(own.plugins.map((p) => [p.name, p.roles])).toEqual([['barbican', ['controller']], ['ceilometer', ['controller']], ['networking-x', ['compute']]]);
    expect(own.computeDisabled).toEqual([]);
    expect(own.computeLocalrc).toEqual([]);
  });
});
