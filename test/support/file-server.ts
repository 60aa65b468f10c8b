/**
 * A loopback HTTP server for tests: serves files with Range support (206 and Content-Range, as
 * cloud-image mirrors do), counts the bytes it sends, and can cut a response halfway or serve
 * corrupted bytes on purpose. `startHttp10Server` serves the way Python's `http.server` does
 * (HTTP/1.0, no Range, the connection closed right after the last byte).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';

export interface FileServer {
  base: string;
  /** Body bytes sent since start (or since reset). */
  bytesSent: number;
  requests: Array<{ path: string; range?: string; sent: number; readerWaits?: number }>;
  /** Cut the next response to `path` after this many body bytes. */
  cutNext(path: string, afterBytes: number): void;
  /** Send the next response to `path` only up to this many body bytes, then hold the connection open. */
  holdNext(path: string, afterBytes: number): void;
  /** Flip one byte in every response to `path` from now on. */
  corrupt(path: string): void;
  reset(): void;
  close(): Promise<void>;
}

export async function startFileServer(files: Record<string, string | Buffer>): Promise<FileServer> {
  const cuts = new Map<string, number>();
  const holds = new Map<string, number>();
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
    const cut = cuts.get(path) ?? holds.get(path);
    const hold = holds.has(path);
    cuts.delete(path);
    holds.delete(path);
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
        if (hold) await new Promise((done) => res.once('close', done)); // until the client goes
        else res.socket?.destroy();
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
    holdNext: (path, afterBytes) => holds.set(path, afterBytes),
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

/**
 * Python's `python3 -m http.server` as a new user runs it, reproduced from CPython 3.11
 * Lib/http/server.py and Lib/socketserver.py:
 * - BaseHTTPRequestHandler.protocol_version = "HTTP/1.0" (server.py:634) and `handle()` serves one
 *   request per connection (close_connection = True, server.py:432-438): no keep-alive.
 * - SimpleHTTPRequestHandler.send_head (server.py:520-767) answers 200 with Content-type,
 *   Content-Length and Last-Modified, and knows nothing of Range: every GET gets the whole file.
 * - copyfile (server.py:863) is shutil.copyfileobj: 64 KiB reads (shutil.COPY_BUFSIZE), each
 *   written with sendall (blocking: the sender waits while the reader is slow).
 * - then TCPServer.shutdown_request (socketserver.py:507-512) sends FIN (shutdown SHUT_WR) at once.
 * So the last bytes and the FIN reach the reader together, whatever state the reader is in.
 */
export async function startHttp10Server(files: Record<string, Buffer>): Promise<FileServer> {
  type Entry = { path: string; range?: string; sent: number; readerWaits: number };
  const state = { bytesSent: 0, requests: [] as Entry[] };
  const sockets = new Set<Socket>();
  const write = (socket: Socket, data: Buffer | string, entry?: Entry) =>
    new Promise<void>((done, fail) => {
      // sendall(): wait until the kernel took it (drain) before the next 64 KiB. Each wait is the
      // reader applying backpressure (it reads slower than loopback delivers); counted per request.
      if (socket.write(data)) done();
      else {
        if (entry) entry.readerWaits++;
        socket.once('drain', done);
        socket.once('close', () => fail(new Error('peer went away')));
      }
    });
  const serve = async (socket: Socket, head: string) => {
    const [requestLine = '', ...headerLines] = head.split('\r\n');
    const [, target = '/'] = requestLine.split(' ');
    const path = new URL(target, 'http://x').pathname;
    const range = headerLines.find((l) => /^range:/i.test(l))?.replace(/^range:\s*/i, '');
    const entry: Entry = range ? { path, range, sent: 0, readerWaits: 0 } : { path, sent: 0, readerWaits: 0 };
    state.requests.push(entry);
    const date = new Date().toUTCString();
    const file = files[path];
    if (file === undefined) {
      const body = 'File not found';
      await write(socket, `HTTP/1.0 404 File not found\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: ${date}\r\nConnection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    } else {
      await write(socket, `HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: ${date}\r\nContent-type: application/octet-stream\r\nContent-Length: ${file.length}\r\nLast-Modified: ${date}\r\n\r\n`);
      for (let at = 0; at < file.length; at += 65536) {
        const chunk = file.subarray(at, at + 65536);
        await write(socket, chunk, entry);
        entry.sent += chunk.length;
        state.bytesSent += chunk.length;
      }
    }
    socket.end(); // shutdown(SHUT_WR) right after the last byte
  };
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    const onData = (data: Buffer) => {
      head += data.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      serve(socket, head.slice(0, end)).catch(() => socket.destroy());
    };
    socket.on('data', onData);
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
    cutNext: () => {
      throw new Error('the HTTP/1.0 server does not cut responses');
    },
    holdNext: () => {
      throw new Error('the HTTP/1.0 server does not hold responses');
    },
    corrupt: () => {
      throw new Error('the HTTP/1.0 server does not corrupt responses');
    },
    reset: () => {
      state.bytesSent = 0;
      state.requests = [];
    },
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
