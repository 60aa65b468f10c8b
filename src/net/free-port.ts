/**
 * A TCP port free on this host right now, chosen by the kernel (listen on port 0, read it, close). Used
 * for VirtualBox's SSH port forwards and by the tests' sshd and stand-in servers. The port can be
 * taken by someone else before it is used; callers that bind it themselves retry on EADDRINUSE.
 */
import { createServer, type AddressInfo } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}
