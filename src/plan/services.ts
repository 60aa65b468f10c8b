/**
 * DevStack services by layer (the "OpenStack as layers" view) and role. Layer 1 is what boots a
 * server today; each layer adds to the one below. Names follow the gate's `devstack` job.
 */
export interface PluginRef {
  name: string;
  url: string;
  ref?: string;
}

const CORE_CONTROLLER = [
  'mysql', 'rabbit', 'key', 'g-api',
  'n-api', 'n-api-meta', 'n-cond', 'n-sch', 'n-novnc', 'n-cpu',
  'placement-api',
  'ovn-controller', 'ovn-northd', 'ovs-vswitchd', 'ovsdb-server', 'q-svc', 'q-ovn-agent',
];
const CORE_COMPUTE = ['n-cpu', 'placement-client', 'ovn-controller', 'ovs-vswitchd', 'ovsdb-server', 'q-ovn-agent'];

interface Layer {
  controller: string[];
  compute: string[];
  plugins: string[];
}

const LAYERS: Record<1 | 2 | 3 | 4, Layer> = {
  1: { controller: CORE_CONTROLLER, compute: CORE_COMPUTE, plugins: [] },
  2: {
    controller: ['etcd3', 'c-api', 'c-sch', 'c-vol', 'c-bak', 's-proxy', 's-object', 's-container', 's-account'],
    compute: ['c-vol'],
    plugins: [],
  },
  3: { controller: ['horizon'], compute: [], plugins: ['barbican', 'ceilometer'] },
  4: { controller: [], compute: [], plugins: ['heat', 'trove'] },
};

const opendev = (name: string): PluginRef => ({ name, url: `https://opendev.org/openstack/${name}` });

export interface ServicePlan {
  controller: string[];
  compute: string[];
  plugins: PluginRef[];
}

/**
 * Services per role for `layer`, then the user's additions (controller only, as devstack-vagrant's
 * manager_extra_services did) and removals (both roles). Plugins the user lists replace a layer's
 * plugin of the same name.
 */
export function planServices(
  layer: number,
  services: { enable: readonly string[]; disable: readonly string[] },
  plugins: readonly PluginRef[],
): ServicePlan {
  const controller: string[] = [];
  const compute: string[] = [];
  const layerPlugins: string[] = [];
  for (let l = 1; l <= layer; l++) {
    const spec = LAYERS[l as 1 | 2 | 3 | 4];
    controller.push(...spec.controller);
    compute.push(...spec.compute);
    layerPlugins.push(...spec.plugins);
  }
  const disabled = new Set(services.disable);
  const unique = (list: string[]) => [...new Set(list)].filter((s) => !disabled.has(s));
  const byName = new Map<string, PluginRef>();
  for (const name of layerPlugins) byName.set(name, opendev(name));
  for (const plugin of plugins) byName.set(plugin.name, { ...plugin });
  return {
    controller: unique([...controller, ...services.enable]),
    compute: unique(compute),
    plugins: [...byName.values()].filter((p) => !disabled.has(p.name)),
  };
}
