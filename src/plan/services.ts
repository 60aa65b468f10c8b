/**
 * DevStack services by layer (the "OpenStack as layers" view) and role. Layer 1 is what boots a
 * server today; each layer adds to the one below. Names follow the gate's `devstack` job.
 */
export type Role = 'controller' | 'compute';

export interface PluginRef {
  name: string;
  url: string;
  ref?: string;
  /** The roles whose local.conf enables the plugin (`enable_plugin` runs its devstack/settings there). */
  roles?: Role[];
}

/** A plugin as planned: roles resolved. */
export interface PlannedPlugin extends PluginRef {
  roles: Role[];
}

/**
 * Plugins of the layers that have a compute side, what of theirs must stay off on a compute, and
 * localrc lines for the compute. ceilometer's devstack/settings (openstack/ceilometer master b4ccf24,
 * lines 3, 5, 18-24) runs `enable_service ceilometer-acompute ceilometer-acentral`,
 * `ceilometer-anotification`, and with the default backend gnocchi `gnocchi-api gnocchi-metricd`, on
 * every node the plugin is enabled on; only the compute pollster belongs on a compute. enable_service
 * skips a service named in DISABLED_SERVICES (devstack functions-common `enable_service`), which
 * `disable_service` sets. Its plugin.sh configures the storage backend wherever it runs
 * (`_ceilometer_configure_storage_backend` → `configure_gnocchi` → `recreate_database gnocchi`, which
 * on a compute would drop the controller's gnocchi database); `CEILOMETER_BACKENDS=none` skips that,
 * and the compute pollster publishes over the message bus to the controller's notification agent.
 */
const COMPUTE_SIDE: Record<string, { disableOnCompute: string[]; computeLocalrc: string[] }> = {
  ceilometer: {
    disableOnCompute: ['ceilometer-acentral', 'ceilometer-anotification', 'gnocchi-api', 'gnocchi-metricd', 'sg-core'],
    computeLocalrc: ['CEILOMETER_BACKENDS=none'],
  },
};

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

const defaultRoles = (name: string): Role[] => (COMPUTE_SIDE[name] ? ['controller', 'compute'] : ['controller']);
const opendev = (name: string): PlannedPlugin => ({ name, url: `https://opendev.org/openstack/${name}`, roles: defaultRoles(name) });

export interface ServicePlan {
  controller: string[];
  compute: string[];
  plugins: PlannedPlugin[];
  /** Services the computes' local.conf disables after enabling their plugins (see COMPUTE_SIDE). */
  computeDisabled: string[];
  /** localrc lines for the computes that the plugins on them need (see COMPUTE_SIDE). */
  computeLocalrc: string[];
}

/** Services that, when on the controller, must be on every node. */
const EVERY_NODE = [
  // The gate enables tls-proxy on subnodes too (devstack .zuul.yaml, group-vars subnode). Only where it
  // is enabled does stack.sh run init_CA (master stack.sh:881-884), which puts the copied CA into the
  // node's trust (lib/tls init_CA, update-ca-certificates) and rebuilds $DATA_DIR/ca-bundle.pem that
  // stack.sh deleted at its start (stack.sh:583-584).
  'tls-proxy',
];

/**
 * Services per role for `layer`, then the user's additions (controller only, as devstack-vagrant's
 * manager_extra_services did, except those EVERY_NODE needs) and removals (both roles). Plugins the
 * user lists replace a layer's plugin of the same name; their roles default to the layer plugin's
 * (the controller and, for a plugin with a compute side, the computes) or else the controller.
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
  const byName = new Map<string, PlannedPlugin>();
  for (const name of layerPlugins) byName.set(name, opendev(name));
  for (const plugin of plugins) byName.set(plugin.name, { ...plugin, roles: plugin.roles ?? defaultRoles(plugin.name) });
  const controllerServices = unique([...controller, ...services.enable]);
  const planned = [...byName.values()].filter((p) => !disabled.has(p.name));
  const onCompute = planned.filter((p) => p.roles.includes('compute'));
  return {
    controller: controllerServices,
    compute: unique([...compute, ...EVERY_NODE.filter((s) => controllerServices.includes(s))]),
    plugins: planned,
    computeDisabled: [...new Set(onCompute.flatMap((p) => COMPUTE_SIDE[p.name]?.disableOnCompute ?? []))],
    computeLocalrc: onCompute.flatMap((p) => COMPUTE_SIDE[p.name]?.computeLocalrc ?? []),
  };
}
