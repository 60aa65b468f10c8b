/**
 * The VBoxManage stand-in (test/fixtures/vbox/VBoxManage) that the VirtualBox provider's tests run
 * against, since VirtualBox cannot run here: its state and files, the texts and exit codes VirtualBox
 * 7.0 prints (machine-readable showvminfo with its stray "Encryption:" line, progress on stderr, COM
 * errors with their Details/Context lines, syntax errors with logo and usage), its failure injections
 * and its call log. Every call gets its own temporary state, log and machine folder.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const VBOXMANAGE = fileURLToPath(new URL('./fixtures/vbox/VBoxManage', import.meta.url));
const PROGRESS = '0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOGO = 'Oracle VM VirtualBox Command Line Management Interface Version 7.0.20\nCopyright (C) 2005-2024 Oracle and/or its affiliates\n\n';

async function sandbox(env: Record<string, string> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'dc-vbox-'));
  const base = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    VBOX_STANDIN_STATE: join(root, 'state', 'vbox.json'),
    VBOX_STANDIN_HOME: join(root, 'home'),
    VBOX_STANDIN_LOG: join(root, 'calls.log'),
    VBOX_STANDIN_HOST_IFS: 'eth0',
    // Never the host's own /etc/vbox/networks.conf: the default rule unless a test writes one.
    VBOX_STANDIN_NETWORKS_CONF: join(root, 'no-networks.conf'),
    ...env,
  };
  const vbox = (args: string[], more: Record<string, string> = {}) =>
    execa(VBOXMANAGE, args, { reject: false, env: { ...base, ...more }, extendEnv: false, stripFinalNewline: false });
  const vms = join(root, 'vms');
  const info = async (vm: string) => {
    const result = await vbox(['showvminfo', vm, '--machinereadable']);
    expect(result.exitCode, result.stderr).toBe(0);
    return parseMachineReadable(result.stdout);
  };
  /** createvm + a SATA disk file attached, as the provider sets a node up. */
  const createWithDisk = async (name: string, folder = vms) => {
    expect((await vbox(['createvm', '--name', name, '--ostype', 'Ubuntu_64', '--basefolder', folder, '--register'])).exitCode).toBe(0);
    const disk = join(root, `${name}.vdi`);
    await writeFile(disk, Buffer.alloc(2 * 1024 * 1024));
    expect((await vbox(['storagectl', name, '--name', 'SATA', '--add', 'sata', '--controller', 'IntelAhci', '--portcount', '1', '--bootable', 'on'])).exitCode).toBe(0);
    const attach = await vbox(['storageattach', name, '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', disk]);
    expect(attach.exitCode, attach.stderr).toBe(0);
    return disk;
  };
  return { root, vms, vbox, info, createWithDisk };
}

/** showvminfo --machinereadable as a parser has to read it: key="value" or key=number, keys quoted when
 *  they contain '=' or spaces of controller names, \" and \\ escaped; other lines are skipped. */
function parseMachineReadable(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^("(?:[^"\\]|\\.)*"|[^="]+)=(.*)$/.exec(line);
    if (!match) continue;
    const unquote = (s: string) => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);
    values.set(unquote(match[1] ?? ''), unquote(match[2] ?? ''));
  }
  return values;
}

describe('VBoxManage stand-in', () => {
  it('--version prints the VirtualBox version, VBOX_STANDIN_VERSION overrides it', async () => {
    const { vbox } = await sandbox();
    expect((await vbox(['--version'])).stdout).toBe('7.0.20r163906\n');
    expect((await vbox(['--version'], { VBOX_STANDIN_VERSION: '7.0.18r162988' })).stdout).toBe('7.0.18r162988\n');
  });

  it('createvm, modifyvm and showvminfo round-trip with the real key names, order and quoting', async () => {
    const { root, vms, vbox, info } = await sandbox();
    const created = await vbox(['createvm', '--name', 'node-1', '--groups', '/devcluster/demo', '--ostype', 'Ubuntu_64', '--basefolder', vms, '--register']);
    expect(created.exitCode).toBe(0);
    const cfg = join(vms, 'devcluster', 'demo', 'node-1', 'node-1.vbox');
    const uuid = /^UUID: (.*)$/m.exec(created.stdout)?.[1] ?? '';
    expect(uuid).toMatch(UUID);
    expect(created.stdout).toBe(`Virtual machine 'node-1' is created and registered.\nUUID: ${uuid}\nSettings file: '${cfg}'\n`);
    expect(await readFile(cfg, 'utf8')).toContain(`<Machine uuid="{${uuid}}" name="node-1" OSType="Ubuntu_64"`);

    const fresh = await info('node-1');
    expect([...fresh.entries()].slice(0, 6)).toEqual([
      ['name', 'node-1'], ['groups', '/devcluster/demo'], ['ostype', 'Ubuntu (64-bit)'], ['UUID', uuid], ['CfgFile', cfg],
      ['SnapFldr', join(vms, 'devcluster', 'demo', 'node-1', 'Snapshots')],
    ]);
    expect(fresh.get('nic1')).toBe('nat');
    expect(fresh.get('nic2')).toBe('none');
    expect(fresh.get('VMState')).toBe('poweroff');
    expect(fresh.get('VMStateChangeTime')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}$/);

    const console = join(root, 'node-1.console.log');
    const modified = await vbox([
      'modifyvm', 'node-1', '--memory', '2048', '--cpus', '2', '--ioapic', 'on', '--nested-hw-virt', 'on',
      '--nic1', 'nat', '--natpf1', 'ssh,tcp,127.0.0.1,2222,,22', '--natpf1', 'http,tcp,127.0.0.1,8080,,80',
      '--nic2', 'hostonly', '--hostonlyadapter2', 'vboxnet0', '--nicpromisc2', 'allow-all', '--macaddress2', '080027abcdef',
      '--nic3', 'bridged', '--bridgeadapter3', 'eth0', '--uart1', '0x3F8', '4', '--uartmode1', 'file', console,
      '--boot1', 'disk', '--boot2', 'net', '--boot3', 'none', '--graphicscontroller', 'vmsvga', '--audio', 'none',
      '--description', 'devcluster node "node-1" C:\\tmp',
    ]);
    expect(modified.exitCode, modified.stderr).toBe(0);
    expect(modified.stdout).toBe('');
    // vboxnet0 does not exist yet: a warning only, as verifyHostNetworkInterfaceName() prints it.
    expect(modified.stderr).toBe(
      'VBoxManage: warning: Interface "vboxnet0" doesn\'t seem to exist\n' +
        'Warning: --audio is deprecated and will be removed soon. Use --audio-driver instead!\n',
    );

    const raw = await vbox(['showvminfo', 'node-1', '--machinereadable']);
    const lines = raw.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['name="node-1"', 'Encryption:     disabled', 'groups="/devcluster/demo"']);
    expect(lines).toContain('memory=2048');
    expect(lines).toContain('cpus=2');
    expect(lines).toContain('Forwarding(0)="http,tcp,127.0.0.1,8080,,80"');
    expect(lines).toContain('Forwarding(1)="ssh,tcp,127.0.0.1,2222,,22"');
    expect(lines).toContain('description="devcluster node \\"node-1\\" C:\\\\tmp"');
    const vm = parseMachineReadable(raw.stdout);
    expect(Object.fromEntries([
      'ioapic', 'nested-hw-virt', 'nic1', 'natnet1', 'nic2', 'hostonlyadapter2', 'macaddress2', 'nic3', 'bridgeadapter3',
      'uart1', 'uartmode1', 'uarttype1', 'uart2', 'boot1', 'boot2', 'boot3', 'boot4', 'graphicscontroller', 'audio', 'description',
    ].map((key) => [key, vm.get(key)]))).toEqual({
      ioapic: 'on', 'nested-hw-virt': 'on', nic1: 'nat', natnet1: 'nat', nic2: 'hostonly', hostonlyadapter2: 'vboxnet0',
      macaddress2: '080027ABCDEF', nic3: 'bridged', bridgeadapter3: 'eth0', uart1: '0x03f8,4', uartmode1: `file,${console}`,
      uarttype1: '16550A', uart2: 'off', boot1: 'disk', boot2: 'net', boot3: 'none', boot4: 'none', graphicscontroller: 'vmsvga',
      audio: 'none', description: 'devcluster node "node-1" C:\\tmp',
    });
    // The promiscuous-mode policy is only in the human-readable form, as in VBoxManageInfo.cpp.
    expect([...vm.keys()].some((key) => key.startsWith('nicpromisc'))).toBe(false);
    expect((await vbox(['showvminfo', 'node-1'])).stdout).toMatch(/^NIC 2: +MAC: 080027ABCDEF, Attachment: Host-only Interface 'vboxnet0', .*Promisc Policy: allow-all,/m);
    // `--audio-driver none` (7.0 spelling) only selects the null driver; enabling is `--audio-enabled`.
    expect((await vbox(['modifyvm', 'node-1', '--audio-enabled', 'on', '--audio-driver', 'none', '--natpf1', 'delete', 'http'])).exitCode).toBe(0);
    const after = await info('node-1');
    expect(after.get('audio')).toBe('null');
    expect(after.has('Forwarding(1)')).toBe(false);

    // A disk in a SATA controller: quoted keys, one line per port and device.
    const disk = join(root, 'disk.vdi');
    await writeFile(disk, Buffer.alloc(1024 * 1024));
    expect((await vbox(['storagectl', 'node-1', '--name', 'SATA', '--add', 'sata', '--controller', 'IntelAhci', '--portcount', '2', '--bootable', 'on'])).exitCode).toBe(0);
    expect((await vbox(['storageattach', 'node-1', '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', disk])).exitCode).toBe(0);
    const storage = (await vbox(['showvminfo', 'node-1', '--machinereadable'])).stdout.split('\n').filter((line) => /SATA|storagecontroller/.test(line));
    expect(storage.slice(0, 6)).toEqual([
      'storagecontrollername0="SATA"', 'storagecontrollertype0="IntelAhci"', 'storagecontrollerinstance0="0"',
      'storagecontrollermaxportcount0="30"', 'storagecontrollerportcount0="2"', 'storagecontrollerbootable0="on"',
    ]);
    expect(storage[6]).toBe(`"SATA-0-0"="${disk}"`);
    expect(storage[7]).toMatch(/^"SATA-ImageUUID-0-0"="[0-9a-f-]{36}"$/);
    expect(storage.slice(8)).toEqual(['"SATA-hot-pluggable-0-0"="off"', '"SATA-nonrotational-0-0"="off"', '"SATA-discard-0-0"="off"', '"SATA-1-0"="none"']);

    // extra data
    expect((await vbox(['getextradata', 'node-1', 'devcluster/role'])).stdout).toBe('No value set!\n');
    expect((await vbox(['setextradata', 'node-1', 'devcluster/role', 'controller'])).exitCode).toBe(0);
    expect((await vbox(['getextradata', 'node-1', 'devcluster/role'])).stdout).toBe('Value: controller\n');
    expect((await vbox(['getextradata', 'node-1', 'enumerate'])).stdout).toBe('Key: devcluster/role, Value: controller\n');
  });

  it('modifyvm keeps the real failure behaviour: nothing saved on a bad option, exit 0 for a bad NIC number, locked while running', async () => {
    const { vbox, info } = await sandbox();
    await vbox(['createvm', '--name', 'vm', '--register']);
    const bad = await vbox(['modifyvm', 'vm', '--memory', '4096', '--bogus', '1']);
    expect(bad.exitCode).toBe(1); // errorGetOpt inside modifyvm sets hrc = E_FAIL, it does not return RTEXITCODE_SYNTAX
    expect(bad.stderr.startsWith(`${LOGO}VBoxManage: error: Unknown option: --bogus\nUsage - Change settings for a virtual machine that is stopped:\n`)).toBe(true);
    expect((await info('vm')).get('memory')).toBe('128');

    const nic9 = await vbox(['modifyvm', 'vm', '--nic9', 'nat', '--memory', '1024']);
    expect([nic9.exitCode, nic9.stderr]).toEqual([0, 'VBoxManage: error: Invalid NIC number 9\n']);
    expect((await info('vm')).get('memory')).toBe('1024');

    const macBefore = (await info('vm')).get('macaddress1');
    const mac = await vbox(['modifyvm', 'vm', '--macaddress1', '090027000001']); // odd first octet: multicast
    expect(mac.exitCode).toBe(1);
    expect((await info('vm')).get('macaddress1')).toBe(macBefore);
    expect(mac.stderr).toMatch(/^VBoxManage: error: Invalid MAC address format\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG \(0x80070057\), component NetworkAdapterWrap, interface INetworkAdapter, callee nsISupports\nVBoxManage: error: Context: "COMSETTER\(MACAddress\)\(Bstr\(ValueUnion.psz\).raw\(\)\)" at line \d+ of file VBoxManageModifyVM.cpp\n$/);

    const memory = await vbox(['modifyvm', 'vm', '--cpus', '4', '--memory', '2']);
    expect(memory.exitCode).toBe(1);
    expect(memory.stderr).toMatch(/^VBoxManage: error: Invalid RAM size: 2 MB \(must be in range \[4, 2097152\] MB\)\n/);
    expect([(await info('vm')).get('memory'), (await info('vm')).get('cpus')]).toEqual(['1024', '1']);

    expect((await vbox(['startvm', 'vm', '--type', 'headless'])).exitCode).toBe(0);
    const busy = await vbox(['modifyvm', 'vm', '--cpus', '2']);
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr).toMatch(/^VBoxManage: error: The machine 'vm' is already locked for a session \(or being unlocked\)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE \(0x80bb0007\), component MachineWrap, interface IMachine, callee nsISupports\nVBoxManage: error: Context: "LockMachine\(a->session, LockType_Write\)" at line \d+ of file VBoxManageModifyVM.cpp\n$/);
  });

  it('a linked clone from a snapshot gets its own differencing disk; link without a snapshot is refused; the base cannot be deleted under it', async () => {
    const { root, vms, vbox, info, createWithDisk } = await sandbox();
    const disk = await createWithDisk('base');
    const taken = await vbox(['snapshot', 'base', 'take', 'golden', '--description', 'installed']);
    expect(taken.exitCode).toBe(0);
    expect(taken.stderr).toBe(`${PROGRESS}\n`);
    const snapshot = /^Snapshot taken\. UUID: (\S+)\n$/.exec(taken.stdout)?.[1] ?? '';
    expect(snapshot).toMatch(UUID);
    expect((await vbox(['snapshot', 'base', 'list', '--machinereadable'])).stdout).toBe(
      `SnapshotName="golden"\nSnapshotUUID="${snapshot}"\nSnapshotDescription="installed"\nCurrentSnapshotName="golden"\n` +
        `CurrentSnapshotUUID="${snapshot}"\nCurrentSnapshotNode="SnapshotName"\n`,
    );
    // The base continues on a differencing image in its Snapshots folder.
    expect((await info('base')).get('SATA-0-0')).toMatch(new RegExp(`^${join(vms, 'base', 'Snapshots')}/\\{[0-9a-f-]{36}\\}\\.vdi$`));

    const noSnapshot = await vbox(['clonevm', 'base', '--options', 'link', '--name', 'orphan', '--register', '--basefolder', vms]);
    expect(noSnapshot.exitCode).toBe(1);
    expect(noSnapshot.stderr).toMatch(/^VBoxManage: error: Linked clone can only be created from a snapshot\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG \(0x80070057\), component MachineWrap, interface IMachine, callee nsISupports\nVBoxManage: error: Context: "CloneTo\(trgMachine, mode, ComSafeArrayAsInParam\(options\), progress.asOutParam\(\)\)" at line \d+ of file VBoxManageMisc.cpp\n$/);
    expect(existsSync(join(vms, 'orphan'))).toBe(false);

    const cloned = await vbox(['clonevm', 'base', '--snapshot', 'golden', '--options', 'link', '--name', 'node-2', '--register', '--groups', '/devcluster', '--basefolder', vms]);
    expect([cloned.exitCode, cloned.stdout, cloned.stderr]).toEqual([0, 'Machine has been successfully cloned as "node-2"\n', `${PROGRESS}\n`]);
    const clone = await info('node-2');
    const diff = clone.get('SATA-0-0') ?? '';
    expect(diff).toMatch(new RegExp(`^${join(vms, 'devcluster', 'node-2', 'Snapshots')}/\\{[0-9a-f-]{36}\\}\\.vdi$`));
    expect(existsSync(diff)).toBe(true);
    expect(clone.get('groups')).toBe('/devcluster');
    expect(clone.get('macaddress1')).not.toBe((await info('base')).get('macaddress1'));
    expect((await vbox(['list', 'vms'])).stdout).toMatch(/^"base" \{[0-9a-f-]{36}\}\n"node-2" \{[0-9a-f-]{36}\}\n$/);

    // Deleting the base fails on its disk, which still has the clone's child: the real VirtualBox has by then
    // unregistered the base and deleted its own differencing image, the disk and the clone stay.
    const base = await vbox(['unregistervm', 'base', '--delete']);
    expect(base.exitCode).toBe(1);
    expect(base.stderr).toMatch(new RegExp(
      '^0%\\.\\.\\.(10%\\.\\.\\.)?VBOX_E_OBJECT_IN_USE\nVBoxManage: error: Machine delete failed\n' +
        `VBoxManage: error: Cannot close medium '${disk}' because it has 1 child media\n` +
        'VBoxManage: error: Details: code VBOX_E_OBJECT_IN_USE \\(0x80bb000c\\), component MediumWrap, interface IMedium\n' +
        'VBoxManage: error: Context: "RTEXITCODE handleUnregisterVM\\(HandlerArg\\*\\)" at line \\d+ of file VBoxManageMisc.cpp\n$',
    ));
    expect(existsSync(disk)).toBe(true);
    expect((await vbox(['list', 'vms'])).stdout).toMatch(/^"node-2" \{[0-9a-f-]{36}\}\n$/);

    // The clone deletes its own differencing disk and folder, never the parent's disk.
    const gone = await vbox(['unregistervm', 'node-2', '--delete']);
    expect([gone.exitCode, gone.stdout, gone.stderr]).toEqual([0, '', `${PROGRESS}\n`]);
    expect(existsSync(join(vms, 'devcluster', 'node-2'))).toBe(false);
    expect(existsSync(disk)).toBe(true);
    expect((await vbox(['list', 'vms'])).stdout).toBe('');
    expect(root).toBeTruthy();
  });

  it('unregistervm --delete removes the VM, its folder and the disks attached to it', async () => {
    const { vms, vbox, createWithDisk } = await sandbox();
    const disk = await createWithDisk('solo');
    expect((await vbox(['snapshot', 'solo', 'take', 's1'])).exitCode).toBe(0);
    expect(await readdir(join(vms, 'solo'))).toEqual(expect.arrayContaining(['solo.vbox', 'Snapshots']));
    const deleted = await vbox(['unregistervm', 'solo', '--delete']);
    expect([deleted.exitCode, deleted.stderr]).toEqual([0, `${PROGRESS}\n`]);
    expect(existsSync(join(vms, 'solo'))).toBe(false);
    expect(existsSync(disk)).toBe(false); // attached disks go too, wherever they are
    expect((await vbox(['list', 'vms'])).stdout).toBe('');
  });

  it('startvm, list runningvms, controlvm acpipowerbutton -> poweroff after the delay; an ignoring guest needs poweroff', async () => {
    const { root, vbox, info } = await sandbox({ VBOX_STANDIN_ACPI_DELAY: '1.5', VBOX_STANDIN_SESSION_RELEASE: '1' });
    const console = join(root, 'console.log');
    await vbox(['createvm', '--name', 'node', '--register']);
    expect((await vbox(['modifyvm', 'node', '--uart1', '0x3F8', '4', '--uartmode1', 'file', console])).exitCode).toBe(0);

    const notRunning = await vbox(['controlvm', 'node', 'acpipowerbutton']);
    expect([notRunning.exitCode, notRunning.stderr]).toEqual([1, "VBoxManage: error: Machine 'node' is not currently running.\n"]);

    const started = await vbox(['startvm', 'node', '--type', 'headless']);
    expect([started.exitCode, started.stdout, started.stderr]).toEqual([0, 'Waiting for VM "node" to power on...\nVM "node" has been successfully started.\n', '']);
    expect(await readFile(console, 'utf8')).toMatch(/^\[ +0\.000000\] Linux version .*\(VBox stand-in\)/);
    const list = await vbox(['list', 'runningvms']);
    expect(list.stdout).toMatch(/^"node" \{[0-9a-f-]{36}\}\n$/);
    const running = await info('node');
    expect([running.get('VMState'), running.get('SessionName')]).toEqual(['running', 'headless']);

    const again = await vbox(['startvm', 'node', '--type', 'headless']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/^VBoxManage: error: The machine 'node' is already locked by a session \(or being locked or unlocked\)\n/);

    const button = await vbox(['controlvm', 'node', 'acpipowerbutton']);
    expect([button.exitCode, button.stdout, button.stderr]).toEqual([0, '', '']);
    expect((await info('node')).get('VMState')).toBe('running');
    await sleep(1600);
    // Powered off, but the VM process's session is not gone yet (Machine::lockMachine/i_launchVMProcess).
    const justOff = await info('node');
    expect([justOff.get('VMState'), justOff.get('SessionName')]).toEqual(['poweroff', 'headless']);
    expect((await vbox(['list', 'runningvms'])).stdout).toBe('');
    expect((await vbox(['startvm', 'node', '--type', 'headless'])).stderr).toMatch(/already locked by a session/);
    await sleep(1000);
    expect((await info('node')).has('SessionName')).toBe(false);

    expect((await vbox(['startvm', 'node', '--type', 'headless'])).exitCode).toBe(0);
    expect((await vbox(['controlvm', 'node', 'acpipowerbutton'], { VBOX_STANDIN_ACPI_IGNORE: '1' })).exitCode).toBe(0);
    await sleep(1600);
    expect((await info('node')).get('VMState')).toBe('running');
    const off = await vbox(['controlvm', 'node', 'poweroff']);
    expect([off.exitCode, off.stdout, off.stderr]).toEqual([0, '', `${PROGRESS}\n`]);
    expect((await info('node')).get('VMState')).toBe('poweroff');
  });

  it('an unknown VM gets the real three-line error and exit 1', async () => {
    const { vbox } = await sandbox();
    const result = await vbox(['showvminfo', 'ghost', '--machinereadable']);
    expect([result.exitCode, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toBe(
      "VBoxManage: error: Could not find a registered machine named 'ghost'\n" +
        'VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports\n' +
        'VBoxManage: error: Context: "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())" at line 3138 of file VBoxManageInfo.cpp\n',
    );
    for (const args of [['startvm', 'ghost'], ['controlvm', 'ghost', 'poweroff'], ['unregistervm', 'ghost', '--delete'], ['modifyvm', 'ghost', '--cpus', '2']]) {
      const other = await vbox(args);
      expect(other.exitCode, args.join(' ')).toBe(1);
      expect(other.stderr, args.join(' ')).toMatch(/^VBoxManage: error: Could not find a registered machine named 'ghost'\n.*VBOX_E_OBJECT_NOT_FOUND.*\nVBoxManage: error: Context: "FindMachine\(/);
    }
  });

  it('syntax errors exit 2 with the logo, the message and the usage on stderr; a bare command prints its usage and exits 1', async () => {
    const { vbox } = await sandbox();
    const noName = await vbox(['createvm', '--register']);
    expect([noName.exitCode, noName.stdout]).toEqual([2, '']);
    expect(noName.stderr.startsWith(`${LOGO}VBoxManage: error: Parameter --name is required\n\nUsage - Create a new virtual machine:\n\n  VBoxManage createvm `)).toBe(true);
    const unknown = await vbox(['startvm', 'vm', '--bogus']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr.startsWith(`${LOGO}VBoxManage: error: unknown option: --bogus\n\nUsage - Start a virtual machine:\n`)).toBe(true);
    const command = await vbox(['frobnicate']);
    expect(command.exitCode).toBe(2);
    expect(command.stderr).toContain("VBoxManage: error: Invalid command 'frobnicate'\n");
    const bare = await vbox(['createvm']);
    expect([bare.exitCode, bare.stderr]).toEqual([1, '']);
    expect(bare.stdout.startsWith('Usage - Create a new virtual machine:\n')).toBe(true);
  });

  it('failure injection reproduces each failure with its real text and exit code', async () => {
    const { root, vbox, info } = await sandbox();
    await vbox(['createvm', '--name', 'vm', '--register']);
    const warning =
      'WARNING: The vboxdrv kernel module is not loaded. Either there is no module\n' +
      `         available for the current kernel (${(await execa('uname', ['-r'])).stdout}) or it failed to\n` +
      '         load. Please recompile the kernel module and install it by\n\n' +
      '           sudo /sbin/vboxconfig\n\n' +
      '         You will not be able to start VMs until this problem is fixed.\n';

    const list = await vbox(['list', 'vms'], { VBOX_STANDIN_FAIL: 'driver' });
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${warning.replace(/[.()]/g, '\\$&')}"vm" \\{[0-9a-f-]{36}\\}\n$`));
    const driver = await vbox(['startvm', 'vm', '--type', 'headless'], { VBOX_STANDIN_FAIL: 'driver' });
    expect([driver.exitCode, driver.stdout, driver.stderr]).toEqual([
      1,
      `${warning}Waiting for VM "vm" to power on...\n`,
      "VBoxManage: error: The virtual machine 'vm' has terminated unexpectedly during startup with exit code 1 (0x1)\n" +
        'VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component MachineWrap, interface IMachine\n',
    ]);
    expect((await info('vm')).get('VMState')).toBe('poweroff');

    const vmx = await vbox(['startvm', 'vm', '--type', 'headless'], { VBOX_STANDIN_FAIL: 'vmx-root' });
    expect([vmx.exitCode, vmx.stdout, vmx.stderr]).toEqual([
      1,
      'Waiting for VM "vm" to power on...\n',
      'VBoxManage: error: VT-x is being used by another hypervisor (VERR_VMX_IN_VMX_ROOT_MODE).\n' +
        "VBoxManage: error: VirtualBox can't operate in VMX root mode. Please disable the KVM kernel extension, recompile your kernel and reboot (VERR_VMX_IN_VMX_ROOT_MODE)\n" +
        'VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n',
    ]);
    const svm = await vbox(['startvm', 'vm', '--type', 'headless'], { VBOX_STANDIN_FAIL: 'svm-in-use' });
    expect([svm.exitCode, svm.stderr]).toEqual([
      1,
      'VBoxManage: error: AMD-V is being used by another hypervisor (VERR_SVM_IN_USE).\n' +
        "VBoxManage: error: VirtualBox can't enable the AMD-V extension. Please disable the KVM kernel extension, recompile your kernel and reboot (VERR_SVM_IN_USE)\n" +
        'VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n',
    ]);
    expect((await info('vm')).get('VMState')).toBe('poweroff');

    const broken = await vbox(['createvm', '--name', 'never', '--register'], { VBOX_STANDIN_FAIL: 'broken' });
    expect([broken.exitCode, broken.stdout, broken.stderr]).toEqual([126, '', `${VBOXMANAGE}: 127: exec: /usr/lib/virtualbox/VBoxManage: Permission denied\n`]);
    expect((await vbox(['--version'], { VBOX_STANDIN_FAIL: 'broken' })).exitCode).toBe(126);
    expect((await vbox(['list', 'vms'])).stdout).not.toContain('never');

    const quiet = await vbox(['modifyvm', 'vm', '--memory', '512'], { VBOX_STANDIN_FAIL: 'error-exit0:modifyvm' });
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).toMatch(/^VBoxManage: error: The object is not ready\nVBoxManage: error: Details: code E_ACCESSDENIED \(0x80070005\), component SessionMachine, interface IMachine, callee nsISupports\nVBoxManage: error: Context: ".*" at line \d+ of file VBoxManageModifyVM.cpp\n$/);
    expect((await info('vm')).get('memory')).toBe('128');
    // Only the named subcommand is affected.
    expect((await vbox(['showvminfo', 'vm', '--machinereadable'], { VBOX_STANDIN_FAIL: 'error-exit0:modifyvm' })).stderr).toBe('');
    expect(root).toBeTruthy();
  });

  it('parallel startvm of three VMs leaves every VM running and the state file whole', async () => {
    const { root, vbox } = await sandbox();
    const names = ['n1', 'n2', 'n3'];
    await Promise.all(names.map((name) => vbox(['createvm', '--name', name, '--register'])));
    const results = await Promise.all(names.map((name) => vbox(['startvm', name, '--type', 'headless'])));
    for (const [i, result] of results.entries()) expect(result.stdout).toBe(`Waiting for VM "${names[i]}" to power on...\nVM "${names[i]}" has been successfully started.\n`);
    const running = (await vbox(['list', 'runningvms'])).stdout.trim().split('\n').map((line) => line.split(' ')[0]);
    expect(running.sort()).toEqual(['"n1"', '"n2"', '"n3"']);
    const state = JSON.parse(await readFile(join(root, 'state', 'vbox.json'), 'utf8')) as { vms: { name: string; state: string }[] };
    expect(state.vms.map((vm) => [vm.name, vm.state]).sort()).toEqual([['n1', 'running'], ['n2', 'running'], ['n3', 'running']]);
  });

  it('host-only interfaces: create, list, the 192.168.56.0/21 rule of ipconfig, remove; bridged interfaces from the host', async () => {
    const { root, vbox } = await sandbox();
    const created = await vbox(['hostonlyif', 'create']);
    expect([created.exitCode, created.stdout, created.stderr]).toEqual([0, "Interface 'vboxnet0' was successfully created\n", `${PROGRESS}\n`]);
    const denied = await vbox(['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '10.20.0.1', '--netmask', '255.255.255.0']);
    expect([denied.exitCode, denied.stderr]).toEqual([
      1,
      'VBoxManage: error: Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)\n' +
        'VBoxManage: error: Context: "EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())" at line 252 of file VBoxManageHostonly.cpp\n',
    ]);
    const conf = join(root, 'networks.conf');
    await writeFile(conf, '* 10.20.0.0/16 192.168.56.0/21\n');
    expect((await vbox(['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '10.20.0.1', '--netmask', '255.255.0.0'], { VBOX_STANDIN_NETWORKS_CONF: conf })).exitCode).toBe(0);
    expect((await vbox(['list', 'hostonlyifs'])).stdout).toBe(
      'Name:            vboxnet0\nGUID:            786f6276-656e-4074-8000-0a0027000000\nDHCP:            Disabled\n' +
        'IPAddress:       10.20.0.1\nNetworkMask:     255.255.0.0\nIPV6Address:     \nIPV6NetworkMaskPrefixLength: 0\n' +
        'HardwareAddress: 0a:00:27:00:00:00\nMediumType:      Ethernet\nWireless:        No\nStatus:          Down\n' +
        'VBoxNetworkName: HostInterfaceNetworking-vboxnet0\n\n',
    );
    const bridged = (await vbox(['list', 'bridgedifs'])).stdout;
    expect(bridged).toMatch(/^Name: {12}eth0\nGUID: {12}30687465-0000-4000-8000-[0-9a-f]{12}\nDHCP: {12}Disabled\nIPAddress: {7}[\d.]+\nNetworkMask: {5}[\d.]+\n/);
    expect(bridged).toMatch(/VBoxNetworkName: HostInterfaceNetworking-eth0\n\n$/);
    const removed = await vbox(['hostonlyif', 'remove', 'vboxnet0']);
    expect([removed.exitCode, removed.stdout, removed.stderr]).toEqual([0, '', `${PROGRESS}\n`]);
    expect((await vbox(['list', 'hostonlyifs'])).stdout).toBe('');
    const missing = await vbox(['hostonlyif', 'remove', 'vboxnet0']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('component HostWrap, interface IHost, callee nsISupports');
  });

  it('media: a missing file, resize with progress, closemedium refusing a medium in use', async () => {
    const { root, vbox, createWithDisk } = await sandbox();
    const disk = await createWithDisk('vm');
    const missing = join(root, 'missing.vdi');
    const attach = await vbox(['storageattach', 'vm', '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', missing]);
    expect(attach.exitCode).toBe(1);
    expect(attach.stderr).toMatch(new RegExp(
      `^VBoxManage: error: Could not find file for the medium '${missing}' \\(VERR_FILE_NOT_FOUND\\)\n` +
        'VBoxManage: error: Details: code VBOX_E_FILE_ERROR \\(0x80bb0004\\), component MediumWrap, interface IMedium, callee nsISupports\n' +
        'VBoxManage: error: Context: "OpenMedium\\(.*\\)" at line \\d+ of file VBoxManageDisk.cpp\n' +
        `VBoxManage: error: Invalid UUID or filename "${missing}"\n$`,
    ));
    for (const command of ['modifymedium', 'modifyhd']) {
      const resized = await vbox([command, 'disk', disk, '--resize', '20480']);
      expect([resized.exitCode, resized.stdout, resized.stderr], command).toEqual([0, '', `${PROGRESS}\n`]);
    }
    const state = JSON.parse(await readFile(join(root, 'state', 'vbox.json'), 'utf8')) as { media: Record<string, { size_mb: number }> };
    expect(state.media[disk]?.size_mb).toBe(20480);
    const inUse = await vbox(['closemedium', 'disk', disk]);
    expect(inUse.exitCode).toBe(1);
    expect(inUse.stderr).toContain(`VBoxManage: error: Medium '${disk}' cannot be closed because it is still attached to 1 virtual machines\n`);
    expect((await vbox(['storageattach', 'vm', '--storagectl', 'SATA', '--port', '0', '--device', '0', '--medium', 'none'])).exitCode).toBe(0);
    const closed = await vbox(['closemedium', 'disk', disk, '--delete']);
    expect([closed.exitCode, closed.stderr]).toEqual([0, `${PROGRESS}\n`]);
    expect(existsSync(disk)).toBe(false);
  });

  it('logs every call as one JSON array per line, for golden comparison', async () => {
    const { root, vbox } = await sandbox();
    await vbox(['createvm', '--name', 'logged vm', '--register']);
    await vbox(['modifyvm', 'logged vm', '--natpf1', 'ssh,tcp,127.0.0.1,2222,,22']);
    await vbox(['showvminfo', 'logged vm', '--machinereadable']);
    await vbox(['--version'], { VBOX_STANDIN_FAIL: 'broken' });
    const lines = (await readFile(join(root, 'calls.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as string[])).toEqual([
      ['createvm', '--name', 'logged vm', '--register'],
      ['modifyvm', 'logged vm', '--natpf1', 'ssh,tcp,127.0.0.1,2222,,22'],
      ['showvminfo', 'logged vm', '--machinereadable'],
      ['--version'],
    ]);
  });
});

/**
 * The rules read in VirtualBox's own source (6.1.38, 7.0.18, 7.1.12; the stand-in names file and line
 * for each): what real VBoxManage accepts and refuses of the argument lists around devcluster's, and the
 * session that keeps a powered-off VM locked until its VM process has gone.
 */
describe.each([['7.0.20r163906'], ['7.1.12r169651'], ['6.1.38r153438']])('VBoxManage stand-in %s: rules from the source', (version) => {
  const env = { VBOX_STANDIN_VERSION: version };

  it('storagectl --controller takes only the names VBoxManageStorageController.cpp compares: "ahci" is refused and nothing is saved', async () => {
    const { vms, vbox, info } = await sandbox(env);
    expect((await vbox(['createvm', '--name', 'vm', '--basefolder', vms, '--register'])).exitCode).toBe(0);
    const ahci = await vbox(['storagectl', 'vm', '--name', 'SATA', '--add', 'sata', '--controller', 'ahci', '--portcount', '2']);
    expect([ahci.exitCode, ahci.stderr]).toEqual([1, "VBoxManage: error: Invalid --type argument 'ahci'\n"]);
    expect((await info('vm')).has('storagecontrollername0')).toBe(false);
    const ok = await vbox(['storagectl', 'vm', '--name', 'SATA', '--add', 'SATA', '--controller', 'intelahci', '--portcount', '2']);
    expect([ok.exitCode, ok.stderr]).toEqual([0, '']);
    const vm = await info('vm');
    expect([vm.get('storagecontrollertype0'), vm.get('storagecontrollerportcount0')]).toEqual(['IntelAhci', '2']);
    const few = await vbox(['storagectl', 'vm', '--name', 'IDE']);
    expect([few.exitCode, few.stderr]).toEqual([2, expect.stringContaining('VBoxManage: error: Too few parameters')]);
  });

  it('clonevm: --mode snapshot is refused; --options takes any prefix (l = Link), as parseCloneOptions compares', async () => {
    const { vms, vbox, info, createWithDisk } = await sandbox(env);
    await createWithDisk('base');
    expect((await vbox(['snapshot', 'base', 'take', 'base'])).exitCode).toBe(0);
    const mode = await vbox(['clonevm', 'base', '--snapshot', 'base', '--mode', 'snapshot', '--name', 'm', '--register', '--basefolder', vms]);
    expect([mode.exitCode, mode.stderr]).toEqual([2, "VBoxManage: error: Invalid clone mode 'snapshot'\n"]);
    const bad = await vbox(['clonevm', 'base', '--snapshot', 'base', '--options', 'linky', '--name', 'm', '--register', '--basefolder', vms]);
    expect([bad.exitCode, bad.stderr]).toEqual([2, "VBoxManage: error: Invalid clone options 'linky'\n"]);
    expect((await vbox(['list', 'vms'])).stdout).not.toContain('"m"');
    const short = await vbox(['clonevm', 'base', '--snapshot', 'base', '--options', 'l', '--mode', 'MACHINE', '--name', 'linked', '--register', '--basefolder', vms]);
    expect([short.exitCode, short.stdout]).toEqual([0, 'Machine has been successfully cloned as "linked"\n']);
    // A linked clone: its disk is a differencing image in its own Snapshots folder.
    expect((await info('linked')).get('SATA-0-0')).toMatch(new RegExp(`^${join(vms, 'linked', 'Snapshots')}/\\{[0-9a-f-]{36}\\}\\.vdi$`));
  });

  it('showvminfo -M is --machinereadable (RTGetOpt short option of g_aShowVMInfoOptions)', async () => {
    const { vbox } = await sandbox(env);
    expect((await vbox(['createvm', '--name', 'vm', '--register'])).exitCode).toBe(0);
    const short = await vbox(['showvminfo', 'vm', '-M']);
    const long = await vbox(['showvminfo', 'vm', '--machinereadable']);
    expect(short.exitCode).toBe(0);
    expect(short.stdout.replace(/VMStateChangeTime=.*/, '')).toBe(long.stdout.replace(/VMStateChangeTime=.*/, ''));
    expect(short.stdout).toMatch(/^name="vm"\n/);
    const unknown = await vbox(['showvminfo', 'vm', '-X']);
    expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringContaining('VBoxManage: error: Unknown option: -X')]);
  });

  it('list hostonlynets is unknown on a Linux host (VBOX_WITH_VMNET is darwin-only); hostonlyifs lists', async () => {
    const { vbox } = await sandbox(env);
    const nets = await vbox(['list', 'hostonlynets']);
    expect([nets.exitCode, nets.stderr]).toEqual([2, expect.stringContaining('VBoxManage: error: Unknown subcommand "hostonlynets".')]);
    expect((await vbox(['list', 'hostonlyifs'])).exitCode).toBe(0);
  });

  it('hostonlyif ipconfig: --dhcp with --ip is a syntax error; --dhcp alone is accepted; the address rule of VBoxNetAdpCtl', async () => {
    const { root, vbox } = await sandbox(env);
    expect((await vbox(['hostonlyif', 'create'])).exitCode).toBe(0);
    const both = await vbox(['hostonlyif', 'ipconfig', 'vboxnet0', '--dhcp', '--ip', '192.168.56.1']);
    expect([both.exitCode, both.stderr]).toEqual([2, expect.stringContaining('VBoxManage: error: You can not use --dhcp with static ip configuration parameters: --ip, --netmask, --ipv6 and --netmasklengthv6.')]);
    const dhcp = await vbox(['hostonlyif', 'ipconfig', 'vboxnet0', '--dhcp']);
    expect([dhcp.exitCode, dhcp.stderr]).toEqual([0, '']);
    expect((await vbox(['list', 'hostonlyifs'])).stdout).toContain('DHCP:            Enabled\n');
    const ipconfig = (ip: string, mask: string, more: Record<string, string> = {}) => vbox(['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', ip, '--netmask', mask], more);
    // No networks.conf: only 192.168.56.1/21 — inside it and with a prefix of at least 21.
    expect((await ipconfig('192.168.63.1', '255.255.255.0')).exitCode).toBe(0);
    expect((await ipconfig('192.168.64.1', '255.255.255.0')).stderr).toContain('E_ACCESSDENIED');
    expect((await ipconfig('192.168.56.1', '255.255.0.0')).stderr).toContain('E_ACCESSDENIED');
    // networks.conf: only the words after a line's first word "*" count.
    const conf = join(root, 'networks.conf');
    await writeFile(conf, '# * 10.0.0.0/8\n*10.1.0.0/16\n* 10.2.0.0/16 bogus\n');
    const more = { VBOX_STANDIN_NETWORKS_CONF: conf };
    expect((await ipconfig('10.2.3.1', '255.255.255.0', more)).exitCode).toBe(0);
    expect((await ipconfig('10.1.3.1', '255.255.255.0', more)).exitCode).toBe(1);
    expect((await ipconfig('192.168.56.1', '255.255.255.0', more)).exitCode).toBe(1);
    // Host::createHostOnlyNetworkInterface / enableStaticIPConfig keep the address in global extradata.
    expect((await vbox(['getextradata', 'global', 'enumerate'])).stdout).toBe('Key: HostOnly/vboxnet0/IPAddress, Value: 10.2.3.1\nKey: HostOnly/vboxnet0/IPNetMask, Value: 255.255.255.0\n');
    expect((await vbox(['hostonlyif', 'remove', 'vboxnet0'])).exitCode).toBe(0);
    expect((await vbox(['getextradata', 'global', 'enumerate'])).stdout).toBe('');
  });

  it('a powered-off VM stays locked until its session is gone: unregistervm is refused meanwhile (Machine::unregister)', async () => {
    const { vbox, info, createWithDisk } = await sandbox({ ...env, VBOX_STANDIN_SESSION_RELEASE: '1.5' });
    await createWithDisk('vm');
    expect((await vbox(['startvm', 'vm', '--type', 'headless'])).exitCode).toBe(0);
    expect((await vbox(['controlvm', 'vm', 'poweroff'])).exitCode).toBe(0);
    const off = await info('vm');
    expect([off.get('VMState'), off.get('SessionName')]).toEqual(['poweroff', 'headless']);
    const refused = await vbox(['unregistervm', 'vm', '--delete']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^VBoxManage: error: Cannot unregister the machine 'vm' while it is locked\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE \(0x80bb0007\), component MachineWrap, interface IMachine, callee nsISupports\n/);
    expect((await vbox(['list', 'vms'])).stdout).toContain('"vm"');
    await sleep(1600);
    expect((await info('vm')).has('SessionName')).toBe(false);
    const gone = await vbox(['unregistervm', 'vm', '--delete']);
    expect([gone.exitCode, gone.stderr]).toEqual([0, `${PROGRESS}\n`]);
  });
});
