/**
 * 1. Two nodes, from nothing to "ready and provisioned with a trivial step": devcluster versus
 * Vagrant + vagrant-libvirt (Debian's packages), on the same test image, same sizes (1 vCPU, 1 GiB),
 * static private addresses, one shell step per node. Warm on both sides: the image is in
 * devcluster's cache and base volume, the box in Vagrant's pool, each from a first run not timed.
 * devcluster: `up --no-provision` (nodes answer SSH, cloud-init done), then `devcluster ssh NODE -- echo`
 * for each node. Vagrant: `vagrant up` with a shell provisioner (`echo`), machines in parallel.
 * The box is the test image with a `vagrant` user holding Vagrant's insecure key and passwordless sudo
 * (vagrant-libvirt gives no cloud-init seed), packaged as Vagrant's libvirt box format.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFolder, requireTestImage, sh, timed, virsh } from './lib.js';
import type { Shared } from './lib.js';

const INSECURE_KEY_PATHS = ['/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub', '/usr/share/vagrant/keys/vagrant.pub', '/usr/lib/ruby/vendor_ruby/vagrant/keys/vagrant.pub'];

function ensureVagrant(): void {
  const installed = (pkg: string): boolean => {
    try {
      return sh('dpkg-query', ['-W', '-f=${Status}', pkg]).includes('install ok installed');
    } catch {
      return false;
    }
  };
  if (installed('vagrant') && installed('vagrant-libvirt')) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'vagrant', 'vagrant-libvirt'], { stdio: 'ignore', env });
}

function insecureKey(): string {
  const found = INSECURE_KEY_PATHS.find((p) => existsSync(p)) ?? sh('sh', ['-c', 'dpkg -L vagrant | grep -m1 "keys/vagrant.pub$"']).trim();
  return readFileSync(found, 'utf8').trim();
}

/** The test image plus a vagrant user, as a libvirt box (box.img + metadata.json + Vagrantfile). */
function makeBox(image: string, dir: string): string {
  const raw = join(dir, 'box.raw');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  sh('qemu-img', ['convert', '-O', 'raw', image, raw]);
  sh('mount', ['-o', 'loop', raw, mnt]);
  try {
    sh('chroot', [mnt, 'useradd', '--create-home', '--shell', '/bin/bash', 'vagrant']);
    mkdirSync(join(mnt, 'home/vagrant/.ssh'), { recursive: true });
    writeFileSync(join(mnt, 'home/vagrant/.ssh/authorized_keys'), `${insecureKey()}\n`, { mode: 0o600 });
    sh('chroot', [mnt, 'chown', '-R', 'vagrant:vagrant', '/home/vagrant/.ssh']);
    writeFileSync(join(mnt, 'etc/sudoers.d/vagrant'), 'vagrant ALL=(ALL) NOPASSWD:ALL\n', { mode: 0o440 });
  } finally {
    sh('umount', [mnt]);
  }
  const boxDir = join(dir, 'box');
  mkdirSync(boxDir);
  sh('qemu-img', ['convert', '-O', 'qcow2', raw, join(boxDir, 'box.img')]);
  rmSync(raw);
  writeFileSync(join(boxDir, 'metadata.json'), '{"provider":"libvirt","format":"qcow2","virtual_size":8}\n');
  writeFileSync(join(boxDir, 'Vagrantfile'), 'Vagrant.configure("2") do |config|\n  config.vm.provider :libvirt do |libvirt|\n    libvirt.driver = "qemu"\n  end\nend\n');
  const box = join(dir, 'dc-bench.box');
  sh('tar', ['-C', boxDir, '-czf', box, 'metadata.json', 'Vagrantfile', 'box.img']);
  rmSync(boxDir, { recursive: true });
  return box;
}

const VAGRANTFILE = (net: string): string => `Vagrant.configure("2") do |config|
  config.vm.box = "dc-bench"
  config.vm.synced_folder ".", "/vagrant", disabled: true
  { "controller" => "${net}.10", "compute1" => "${net}.11" }.each do |name, ip|
    config.vm.define name do |node|
      node.vm.hostname = name
      node.vm.network :private_network, ip: ip
      node.vm.provision "shell", inline: "echo provisioned $(hostname)"
      node.vm.provider :libvirt do |libvirt|
        libvirt.driver = "qemu"
        libvirt.cpu_mode = "custom"
        libvirt.cpu_model = "qemu64"
        libvirt.cpus = 1
        libvirt.memory = 1024
      end
    end
  end
end
`;

export async function benchVagrant({ work }: Shared): Promise<{ devclusterS: number; vagrantS: number; vagrantVersion: string }> {
  const { image, sums } = requireTestImage();
  ensureVagrant();
  const dir = mkdtempSync(join(work, 'vagrant-'));
  const netsBefore = new Set(virsh('net-list', '--all', '--name').split('\n').filter(Boolean));
  const volsBefore = new Set(virsh('vol-list', 'default').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean));
  const env = { ...process.env, VAGRANT_HOME: join(dir, 'vagrant.d'), VAGRANT_DEFAULT_PROVIDER: 'libvirt', VAGRANT_CHECKPOINT_DISABLE: '1' };
  const vagrant = (...args: string[]): string => execFileSync('vagrant', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
  let vagrantS: number;
  try {
    vagrant('box', 'add', '--name', 'dc-bench', makeBox(image, dir));
    writeFileSync(join(dir, 'Vagrantfile'), VAGRANTFILE('192.168.166'));
    vagrant('up'); // warm-up: copies the box into the pool
    vagrant('destroy', '-f');
    vagrantS = await timed(() => {
      const out = vagrant('up');
      if ((out.match(/provisioned (controller|compute1)/g) ?? []).length !== 2) throw new Error(`vagrant up did not run both provisioners:\n${out.slice(-3000)}`);
    });
  } finally {
    try {
      vagrant('destroy', '-f');
    } catch {
      // nothing was made
    }
    for (const net of virsh('net-list', '--all', '--name').split('\n').filter((n) => n && !netsBefore.has(n))) {
      try {
        virsh('net-destroy', net);
      } catch {
        // not running
      }
      virsh('net-undefine', net);
    }
    for (const vol of virsh('vol-list', 'default').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((v): v is string => !!v && !volsBefore.has(v))) virsh('vol-delete', '--pool', 'default', vol);
  }

  const dcDir = join(dir, 'devcluster');
  mkdirSync(dcDir);
  const name = `bv${process.pid % 10000}`;
  const must = await clusterFolder(dcDir, { name, image, sums, cidr: '192.168.167.0/24', nodes: ['controller', 'compute1'] });
  await must('up', '--no-wait'); // warm-up: the image into the cache and the pool
  await must('down');
  let devclusterS: number;
  try {
    devclusterS = await timed(async () => {
      await must('up', '--no-provision');
      for (const node of ['controller', 'compute1']) {
        const out = await must('ssh', node, '--', 'echo provisioned $(hostname)');
        if (!out.includes(`provisioned ${node}`)) throw new Error(`devcluster ssh ${node} said: ${out}`);
      }
    });
  } finally {
    await must('down');
  }
  return { devclusterS, vagrantS, vagrantVersion: sh('vagrant', ['--version']).trim() };
}
