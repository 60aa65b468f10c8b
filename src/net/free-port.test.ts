/** freePort: a port nobody listens on, which a server can then bind. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './free-port.js';

describe('freePort', () => {
  it('gives a port a server can bind on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((done) => server.close(done));
  });
});
