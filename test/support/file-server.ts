/**
 * A loopback HTTP server for tests: serves files with Range support (206 and Content-Range, as
 * cloud-image mirrors do), counts the bytes it sends, and can cut a response halfway or serve
 * corrupted bytes on purpose.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FileServer {
  base: string;
  /** Body bytes sent since start (or since reset). */
  bytesSent: number;
  requests: Array<{ path: string; range?: string; sent: number }>;
  /** Cut the next response to `path` after this many body bytes. */
  cutNext(path: string, afterBytes: number): void;
  /** Flip one byte in every response to `path` from now on. */
  corrupt(path: string): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFileServer(files: Record<string, string | Buffer>): Promise<FileServer> {
  const cuts = new Map<string, number>();
  const corrupted = new Set<string>();
  const state = { bytesSent: 0, requests: [] as Array<{ path: string; range?: string; sent: number }> };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const range = req.headers.range;
    const entry: { path: string; range?: string; sent: number } = range ? { path, range, sent: 0 } : { path, sent: 0 };
    state.requests.push(entry);
    const file = files[path];
    if (file === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const size = typeof file === 'string' ? (await stat(file)).size : file.length;
    let start = 0;
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (match) {
      start = Number(match[1]);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    const cut = cuts.get(path);
    cuts.delete(path);
    let sent = 0;
    const stream = typeof file === 'string' ? createReadStream(file, { start }) : [file.subarray(start)];
    for await (const raw of stream) {
      let chunk = Buffer.from(raw as Buffer);
      if (corrupted.has(path) && sent === 0 && start === 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = (chunk[0] ?? 0) ^ 0xff;
      }
      if (cut !== undefined && sent + chunk.length >= cut) {
        const part = chunk.subarray(0, cut - sent);
        state.bytesSent += part.length;
        entry.sent += part.length;
        await new Promise<void>((done) => res.write(part, () => done()));
        res.socket?.destroy();
        return;
      }
      sent += chunk.length;
      entry.sent += chunk.length;
      state.bytesSent += chunk.length;
      if (!res.write(chunk)) await new Promise((done) => res.once('drain', done));
    }
    res.end();
  };

  const server = createServer((req, res) => {
    handler(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    get bytesSent() {
      return state.bytesSent;
    },
    get requests() {
      return state.requests;
    },
    cutNext: (path, afterBytes) => cuts.set(path, afterBytes),
    corrupt: (path) => corrupted.add(path),
    reset: () => {
      state.bytesSent = 0;
      state.requests = [];
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
