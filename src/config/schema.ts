/**
 * The shape of devcluster.yaml, as zod schemas. Shape and per-field checks live here; rules that
 * relate fields to each other live in rules.ts and run on the parsed value. Defaults that do not
 * depend on other fields are declared here so the JSON Schema shows them to editors.
 */
import { z } from 'zod';
import { IMAGE_NAMES } from './catalog-names.js';
import { SIZE_PATTERN } from './units.js';
import { parseCidr, parseIPv4 } from './ipv4.js';
import { checkPasswordHash } from './crypt.js';
import { grenadeSchema } from './grenade-schema.js';

const DNS_NAME = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

const resourceName = (what: string, max: number) =>
  z
    .string()
    .max(max, { error: `${what} must be at most ${max} characters (it prefixes libvirt and VirtualBox names)` })
    .regex(DNS_NAME, {
      error: `${what} must be lower-case letters, digits and '-', start with a letter and not end with '-'`,
    });

const size = (what: string) =>
  z.string({ error: `${what} needs a unit, e.g. "8GiB" or "512MiB"` }).regex(SIZE_PATTERN, {
    error: `${what} needs a number with a unit: B, KiB, MiB, GiB, TiB (or K/M/G/T), e.g. "8GiB"`,
  });

const ipv4 = z.string().refine((v) => parseIPv4(v) !== undefined, {
  error: 'is not an IPv4 address: write four numbers 0–255, e.g. 192.168.150.21',
});

const mac = z
  .string({ error: 'must be a MAC address written as a quoted string, e.g. "52:54:00:00:00:21"' })
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: 'must be six hex pairs separated by ":", e.g. "52:54:00:00:00:21"' })
  .refine((v) => (parseInt(v.slice(0, 2), 16) & 1) === 0, {
    error: 'is a multicast address (odd first byte): use a unicast one such as 52:54:00:…',
  });

export const nodeSchema = z
  .strictObject({
    name: resourceName('a node name', 15).describe('Node name: used in resource names and `devcluster ssh NAME`.'),
    role: z.enum(['controller', 'compute'], { error: 'role must be "controller" or "compute"' }),
    hostname: z
      .string()
      .max(253)
      .describe('Fully qualified host name (RFC 1123). Default: NAME.CLUSTER.test')
      .optional(),
    ip: ipv4.describe('Static address on the cluster network. Default: the next free one from .10 up').optional(),
    mac: mac.describe('MAC of the cluster NIC. Default: derived from cluster and node name').optional(),
    cpus: z.int({ error: 'cpus must be a whole number' }).min(1).max(256).optional(),
    memory: size('memory').describe('RAM, e.g. 8GiB. Default: 8GiB controller, 4GiB compute').optional(),
    disk: size('disk').describe('Disk size, e.g. 40GiB. Default: 40GiB controller, 20GiB compute').optional(),
  })
  .describe('One VM of the cluster.');

export const imageSchema = z.union(
  [
    z.enum(IMAGE_NAMES, { error: `must be one of ${IMAGE_NAMES.join(', ')} or { url, sha256 | checksums_url }` }),
    z
      .strictObject({
        url: z.string().min(1),
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, { error: 'sha256 must be 64 hex digits' })
          .optional(),
        checksums_url: z.string().min(1).optional(),
      })
      .refine((v) => (v.sha256 === undefined) !== (v.checksums_url === undefined), {
        error: 'give exactly one of sha256 or checksums_url, so the download can be verified',
      }),
  ],
  { error: `image must be one of ${IMAGE_NAMES.join(', ')} or { url, sha256 | checksums_url }` },
);

const port = z
  .string()
  .regex(/^(icmp|(tcp|udp)\/\d{1,5}(-\d{1,5})?)$/, { error: 'must be "icmp", "tcp/PORT", "udp/PORT" or "tcp/FROM-TO"' });

// DevStack's consumers break on anything else: stack.sh read_password says "Use only alphanumeric
// characters" (master stack.sh:673), lib/database builds mysql+pymysql://root:$DATABASE_PASSWORD@host,
// lib/databases/mysql passes -p$DATABASE_PASSWORD unquoted, functions-common --os-password $ADMIN_PASSWORD.
const passwordText = z
  .string()
  .min(8, { error: 'must be at least 8 characters' })
  .regex(/^[A-Za-z0-9]+$/, {
    error:
      "must use only letters A-Z, a-z and digits 0-9: DevStack's stack.sh asks for alphanumeric passwords and puts them unquoted into command lines and database URLs",
  });

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path of this JSON Schema, for editors.'),
    name: resourceName('the cluster name', 20)
      .default('dev')
      .describe('Cluster name: prefixes every resource devcluster creates (dc-NAME-NODE-…).'),
    provider: z
      .enum(['libvirt', 'virtualbox'], { error: 'provider must be "libvirt" or "virtualbox"' })
      .default('libvirt'),
    libvirt: z
      .strictObject({
        uri: z.string().regex(/^[a-z+]+:\/\//, { error: 'must be a libvirt URI such as qemu:///system' }).default('qemu:///system'),
        pool: z.string().min(1).default('default'),
        accelerator: z
          .enum(['auto', 'kvm', 'tcg'], { error: 'accelerator must be "auto", "kvm" or "tcg"' })
          .default('auto')
          .describe('auto: KVM when a tiny test guest runs under it here, else TCG emulation; kvm or tcg force one.'),
      })
      .prefault({}),
    virtualbox: z.strictObject({}).prefault({}),
    image: imageSchema.default('ubuntu-24.04'),
    network: z
      .strictObject({
        mode: z.enum(['nat', 'bridged'], { error: 'mode must be "nat" or "bridged"' }).default('nat'),
        cidr: z
          .string()
          .refine((v) => parseCidr(v) !== undefined, {
            error: 'must be an IPv4 network with its prefix, e.g. 192.168.150.0/24 (host bits zero)',
          })
          .default('192.168.150.0/24')
          .describe('NAT: the cluster network. Bridged: the management network.'),
        bridge_interface: z
          .string()
          .min(1)
          .describe('Bridged mode: the host bridge or NIC the nodes join (devstack-vagrant bridge_int).')
          .optional(),
      })
      .prefault({}),
    nodes: z
      .array(nodeSchema)
      .min(1, { error: 'nodes needs at least the controller' })
      .default([
        { name: 'controller', role: 'controller' },
        { name: 'compute1', role: 'compute' },
      ]),
    stack_user: z
      .strictObject({
        name: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a Linux user name (lower case, up to 32 characters)' })
          .refine((v) => v !== 'root', { error: 'must not be root: DevStack refuses to run as root' })
          .default('stack'),
        password_hash: z
          .string()
          .superRefine((v, ctx) => {
            const check = checkPasswordHash(v);
            if (!check.ok) ctx.addIssue({ code: 'custom', message: `password_hash ${check.reason}` });
          })
          .describe('crypt(3) hash for console login, e.g. from `openssl passwd -6`. Unset: password login locked.')
          .optional(),
        ssh_public_keys: z
          .array(z.string().min(1))
          .describe('Public keys or paths to .pub files. Unset: ~/.ssh/*.pub and the ssh-agent keys.')
          .optional(),
      })
      .prefault({}),
    devstack: z
      .strictObject({
        repo: z.string().min(1).default('https://opendev.org/openstack/devstack').describe('URL or local path'),
        branch: z.string().min(1).default('master'),
        mode: z.enum(['devstack', 'grenade'], { error: 'mode must be "devstack" or "grenade"' }).default('devstack'),
        layer: z
          .int({ error: 'layer must be 1, 2, 3 or 4' })
          .min(1, { error: 'layer must be 1, 2, 3 or 4' })
          .max(4, { error: 'layer must be 1, 2, 3 or 4' })
          .default(2)
          .describe('1 core compute+network, 2 + block/object storage, 3 + dashboard/secrets/telemetry, 4 + orchestration/databases'),
        services: z
          .strictObject({
            enable: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be a DevStack service name' })).default([]),
            disable: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be a DevStack service name' })).default([]),
          })
          .prefault({}),
        plugins: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be a plugin name such as heat' }),
              url: z.string().min(1),
              ref: z.string().min(1).describe('Branch, tag or ref. Default: devstack.branch').optional(),
              roles: z
                .array(z.enum(['controller', 'compute'], { error: 'roles must list "controller" and/or "compute"' }))
                .min(1, { error: 'roles needs at least one of "controller", "compute"' })
                .describe('Nodes whose local.conf enables it. Default: the controller (ceilometer: every node)')
                .optional(),
            }),
          )
          .default([]),
        sources: z
          .record(
            z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be a project name such as nova' }),
            z.string().min(1),
          )
          .default({})
          .describe('project → local path, or a Gerrit ref refs/changes/NN/CHANGE/PATCHSET'),
        local_conf: z
          .strictObject({
            controller: z.string().default(''),
            compute: z.string().default(''),
            nodes: z
              .record(z.string(), z.string())
              .default({})
              .describe("node name → local.conf text used on that node instead of its role's (a compute that differs from the others)"),
          })
          .prefault({}),
        passwords: z
          .strictObject({
            admin: passwordText.optional(),
            service: passwordText.optional(),
            database: passwordText.optional(),
            rabbit: passwordText.optional(),
          })
          .default({})
          .describe('Unset ones are random, generated once and kept 0600 in the state folder.'),
        ip_version: z
          .union([z.literal(4), z.literal(6), z.literal('4+6')], { error: 'ip_version must be 4, 6 or "4+6"' })
          .default(4),
        journal: z.boolean().default(true).describe('USE_JOURNAL=True, for request tracing with journalctl'),
        grenade: grenadeSchema.optional().describe('mode: grenade only: the upgrade from one branch to another (src/config/grenade.ts)'),
      })
      .prefault({}),
    post_stack: z
      .strictObject({
        images: z
          .array(
            z.union([
              z.enum(IMAGE_NAMES),
              z.string().regex(/^(https?|file):\/\/\S+$/, {
                error: `must be one of ${IMAGE_NAMES.join(', ')} or an http(s):// or file:// URL`,
              }),
            ], { error: `must be one of ${IMAGE_NAMES.join(', ')} or an http(s):// or file:// URL` }),
          )
          .default(['ubuntu-24.04', 'fedora-42']),
        keypair: z
          .strictObject({
            name: z.string().regex(/^[A-Za-z0-9_. -]{1,255}$/, { error: 'must be a Nova keypair name' }).default('default'),
            users: z.array(z.string().min(1)).default(['admin', 'demo']),
          })
          .prefault({}),
        open_ports: z.array(port).default(['icmp', 'tcp/22']),
      })
      .prefault({}),
    snapshots: z
      .strictObject({
        after_up: z
          .boolean()
          .default(true)
          .describe('after an `up` that stacked DevStack on every node, save snapshot `stacked` (if there is none), which `devcluster reset` restores'),
      })
      .prefault({}),
    proxy: z
      .strictObject({
        http: z.string().default(''),
        https: z.string().default(''),
        no_proxy: z.string().default(''),
      })
      .prefault({}),
  })
  .describe('devcluster.yaml: a multi-node DevStack cluster.');

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type NodeConfig = z.output<typeof nodeSchema>;
