/**
 * doctor's `binding` check: does the libvirt Node binding (@unraid/libvirt, an optional dependency
 * compiled against libvirt-dev) load and open a connection? With the npm command that installs or
 * rebuilds it in devcluster's package folder.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { outputLines } from '../../shared/command-output.js';
import { run } from '../../../process/run.js';
import { asRoot, type Finding } from '../../../doctor/finding.js';
import { resolveOptions, rethrowCancel, runOpts, type CheckOptions, type Resolved } from '../../../doctor/options.js';

async function packageSpec(o: Resolved): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(join(o.packageRoot, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const range = pkg.optionalDependencies?.[o.bindingModule] ?? pkg.dependencies?.[o.bindingModule];
    return range ? `${o.bindingModule}@${range}` : o.bindingModule;
  } catch {
    return o.bindingModule;
  }
}

/**
 * Loads the binding in a child node, from the package folder, and opens libvirt's test driver with it:
 * @unraid/libvirt loads its compiled part only when a Hypervisor is made, so an import alone proves
 * nothing. A child, because a module that failed to load stays failed in this process's cache and a
 * re-check here would not see a rebuild.
 */
const BINDING_PROBE = (name: string) =>
  `const m = await import(${JSON.stringify(name)});\n` +
  `if (typeof m.Hypervisor === 'function') {\n` +
  `  const h = new m.Hypervisor({ uri: 'test:///default' });\n` +
  `  await h.connectOpen();\n` +
  `  await h.connectClose();\n` +
  `}\n`;

export async function checkBinding(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  const name = o.bindingModule;
  try {
    await run(process.execPath, ['--input-type=module', '-e', BINDING_PROBE(name)], { ...runOpts(o, 30_000), cwd: o.packageRoot });
    const version = await readFile(join(o.packageRoot, 'node_modules', name, 'package.json'), 'utf8').then(
      (text) => ` ${(JSON.parse(text) as { version?: string }).version ?? ''}`.trimEnd(),
      () => '',
    );
    return { id: 'binding', status: 'ok', message: `the Node binding ${name}${version} loads and opens libvirt's test driver` };
  } catch (error) {
    rethrowCancel(error);
    const lines = outputLines(error);
    const text = lines.join('\n');
    // Run the fix as root only when the package folder is not ours (a global install).
    const writable = await access(o.packageRoot, constants.W_OK).then(() => true, () => false);
    const npm = (args: string[]) => (writable ? ['npm', ...args] : asRoot(['npm', ...args], o.uid));
    if (text.includes(`Cannot find package '${name}'`) || text.includes(`Cannot find module '${name}'`)) {
      return {
        id: 'binding',
        status: 'fail',
        message: `the Node binding ${name} is not installed (npm drops an optional dependency whose build failed, e.g. without libvirt-dev)`,
        fix: {
          description: `install ${name} into ${o.packageRoot} (it compiles against libvirt-dev)`,
          commands: [npm(['install', '--prefix', o.packageRoot, '--no-save', '--no-audit', '--no-fund', await packageSpec(o)])],
        },
      };
    }
    // Node shows the failing source line first; the error itself is the line that starts `Error: ` or `XError [CODE]: `.
    const line = lines.find((l) => /^\w*Error( \[\w+\])?: /.test(l)) ?? lines.find((l) => l.trim() !== '') ?? 'unknown error';
    return {
      id: 'binding',
      status: 'fail',
      message: `the Node binding ${name} does not load: ${line.trim()}`,
      fix: { description: `rebuild ${name} against this host's libvirt (needs libvirt-dev, g++, make, pkg-config, python3)`, commands: [npm(['rebuild', '--prefix', o.packageRoot, name])] },
    };
  }
}
