/**
 * doctor's `libvirt` and `pool` checks: is libvirt reachable at the URI (and if not, the fix for that
 * kind of URI: the libvirt group, the daemon through systemd or scripts/libvirtd.sh, or a session's
 * own daemon), and is the storage pool there and active (else the virsh commands that define and
 * start it). What a URI is, is uri.ts's to say.
 */
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../../config/template.js';
import { run } from '../../../process/run.js';
import { asRoot, type Finding } from '../../../doctor/finding.js';
import { pid1IsSystemd } from '../../../doctor/host.js';
import { isMissingTool, reason, resolveOptions, rethrowCancel, runOpts, type CheckOptions, type Resolved } from '../../../doctor/options.js';
import { isLocalSessionUri, isHostDaemonUri } from '../uri.js';

export function libvirtdScript(packageRoot: string = PACKAGE_ROOT): string {
  return join(packageRoot, 'scripts', 'libvirtd.sh');
}

export async function checkLibvirt(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  try {
    const { stdout } = await run('virsh', ['-c', o.uri, 'version'], { ...runOpts(o), debianPackage: 'libvirt-clients' });
    const library = /^Using library:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
    const hypervisor = /^Running hypervisor:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
    const versions = [library, hypervisor].filter(Boolean).join(', ');
    return { id: 'libvirt', status: 'ok', message: `reachable at ${o.uri}${versions ? ` (${versions})` : ''}` };
  } catch (error) {
    rethrowCancel(error);
    if (isMissingTool(error)) {
      return {
        id: 'libvirt',
        status: 'fail',
        message: 'virsh is not installed (Debian package libvirt-clients), so libvirt cannot be checked',
        fix: { description: 'install libvirt-clients and libvirt-daemon-system (see the packages finding)', commands: [] },
      };
    }
    const why = reason(error);
    const finding: Finding = { id: 'libvirt', status: 'fail', message: `not reachable at ${o.uri}: ${why}` };
    if (isHostDaemonUri(o.uri)) {
      if (o.uid !== 0 && /permission denied/i.test(why)) {
        const user = o.env.USER ?? o.env.LOGNAME ?? '$USER';
        finding.fix = {
          description: `let ${user} use the system daemon: join the libvirt group, then log out and in again`,
          commands: [asRoot(['usermod', '-aG', 'libvirt', user], o.uid)],
        };
      } else if (await pid1IsSystemd(o.root)) {
        finding.fix = { description: "start libvirt's daemon and enable it at boot", commands: [asRoot(['systemctl', 'enable', '--now', 'libvirtd'], o.uid)] };
      } else {
        finding.fix = {
          description: 'PID 1 is not systemd, so nothing starts the daemons: start virtlogd and libvirtd by hand (pid files in /run/devcluster/; `libvirtd.sh stop` stops them)',
          commands: [asRoot(['bash', libvirtdScript(o.packageRoot), 'start'], o.uid)],
        };
      }
    } else if (isLocalSessionUri(o.uri)) {
      finding.fix = {
        description: 'libvirt starts the session daemon by itself: check that libvirt-daemon is installed and that XDG_RUNTIME_DIR is set',
        commands: [],
      };
    } else {
      finding.fix = { description: 'check libvirt.uri, and that the libvirt daemon it names runs', commands: [] };
    }
    return finding;
  }
}

function defaultPoolTarget(o: Resolved): string {
  const base = isLocalSessionUri(o.uri) ? join(o.env.HOME ?? '~', '.local/share/libvirt/images') : '/var/lib/libvirt/images';
  return o.pool === 'default' ? base : join(base, o.pool);
}

export async function checkPool(options: CheckOptions, libvirtReachable: boolean): Promise<Finding> {
  const o = resolveOptions(options);
  const label = `storage pool "${o.pool}"`;
  if (!libvirtReachable) return { id: 'pool', status: 'warn', message: `${label} not checked: libvirt is not reachable at ${o.uri}` };
  const virsh = (...args: string[]) => asRoot(['virsh', '-c', o.uri, ...args], isHostDaemonUri(o.uri) ? o.uid : 0);
  try {
    const { stdout } = await run('virsh', ['-c', o.uri, 'pool-info', o.pool], runOpts(o));
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(stdout)?.[1]?.trim();
    const state = field('State') ?? 'unknown';
    if (state === 'running') {
      const available = field('Available');
      const autostart = field('Autostart') === 'yes' ? '' : ', not autostarted';
      return { id: 'pool', status: 'ok', message: `${label} is active${available ? ` (${available} available${autostart})` : autostart ? ` (${autostart.slice(2)})` : ''}` };
    }
    return {
      id: 'pool',
      status: 'fail',
      message: `${label} is ${state} at ${o.uri}`,
      fix: { description: 'start the pool and start it at boot from now on', commands: [virsh('pool-start', o.pool), virsh('pool-autostart', o.pool)] },
    };
  } catch (error) {
    rethrowCancel(error);
    const why = reason(error);
    if (!/pool not found|no storage pool with matching name/i.test(why)) {
      return { id: 'pool', status: 'fail', message: `${label}: ${why}` };
    }
    const target = o.poolTarget ?? defaultPoolTarget(o);
    return {
      id: 'pool',
      status: 'fail',
      message: `${label} is not defined at ${o.uri}`,
      fix: {
        description: `define ${label} as the folder ${target}, create it, start it and start it at boot`,
        commands: [
          virsh('pool-define-as', o.pool, 'dir', '--target', target),
          virsh('pool-build', o.pool),
          virsh('pool-start', o.pool),
          virsh('pool-autostart', o.pool),
        ],
      },
    };
  }
}
