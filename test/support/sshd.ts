/**
 * A real OpenSSH server on loopback for tests: `sshd -D` with a host key and authorized keys of the
 * test's choosing, logging in as the user running the tests (root here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TestSshd {
  port: number;
  user: string;
  stop(): Promise<void>;
}

import { freePort } from '../../src/net/free-port.js';

export { freePort };

/** `extraConfig`: more sshd_config lines (e.g. `SetEnv PATH=…` to put test commands first on the PATH). */
export async function startSshd(hostKey: { private: string; public: string }, authorizedKeys: string[], address = '127.0.0.1', extraConfig: readonly string[] = []): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-sshd-'));
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'host_key'), hostKey.private, { mode: 0o600 });
  await writeFile(join(dir, 'authorized_keys'), `${authorizedKeys.join('\n')}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    `ListenAddress ${address}`,
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'Subsystem sftp internal-sftp',
    `PidFile ${join(dir, 'sshd.pid')}`,
    ...extraConfig,
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), `${config}\n`);
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((done) => {
      const socket = createServer().listen(port, address);
      socket.once('listening', () => socket.close(() => done(false)));
      socket.once('error', () => done(true));
    });
    if (up) break;
    await sleep(50);
  }
  return {
    port,
    user: userInfo().username,
    stop: async () => {
      child.kill();
      await new Promise((done) => (child.exitCode !== null ? done(null) : child.once('exit', done)));
    },
  };
}
