/**
 * One HTTP(S) GET for downloads, with Node's own client (node:http / node:https), following up to
 * five redirects, through the proxy the environment names (proxy.ts).
 *
 * Why not undici: undici 7's HTTP/1.1 client asserts `!this.paused` in Parser.finish when the peer
 * closes the connection while the parser is paused by a slow reader (nodejs/undici#5360, fixed in
 * undici 8, which needs Node >= 22.19): against an HTTP/1.0 server that closes right after the body
 * (Python's http.server), a pull died with an uncaught AssertionError. Node's client pauses the
 * socket instead of the parser, so the end of the stream is seen only after every byte was read.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { get as httpGetRequest } from 'node:http';
import { get as httpsGetRequest } from 'node:https';
import { proxyAgentFor } from './proxy.js';

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface HttpGetOptions {
  signal: AbortSignal;
  headers?: Record<string, string>;
  /** Budget for the status line and headers of each response. */
  headersTimeoutMs: number;
  /** A connection that carries no byte for this long fails (while waiting or while reading the body). */
  stallMs: number;
  env?: NodeJS.ProcessEnv;
}

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The body; read it, or destroy it. */
  body: IncomingMessage;
  /** Where the response came from, after redirects. */
  url: string;
}

function getOnce(url: URL, options: HttpGetOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const agent = proxyAgentFor(url, options.env);
    const get = url.protocol === 'https:' ? httpsGetRequest : httpGetRequest;
    // agent false: a connection of its own, closed after the response (no keep-alive socket lingers).
    const req = get(url, { headers: options.headers ?? {}, agent: agent ?? false, signal: options.signal, timeout: options.stallMs });
    let response: IncomingMessage | undefined;
    const headersTimer = setTimeout(() => req.destroy(new Error(`no answer from ${url.host} within ${options.headersTimeoutMs / 1000} s`)), options.headersTimeoutMs);
    req.on('timeout', () => {
      const error = new Error(`no data from ${url.host} for ${options.stallMs / 1000} s`);
      if (response) response.destroy(error);
      else req.destroy(error);
    });
    req.on('response', (res) => {
      clearTimeout(headersTimer);
      response = res;
      resolve(res);
    });
    // Errors after the response reach its body stream (destroyed with the socket); here they only
    // settle the request if it is still waiting.
    req.on('error', (error) => {
      clearTimeout(headersTimer);
      reject(error);
    });
  });
}

/** GET `url`; redirects are followed, any other status is returned as it is. */
export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpResponse> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new Error(`${current.href}: only http:// and https:// can be downloaded`);
    }
    const res = await getOnce(current, options);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location !== undefined) {
      res.destroy();
      if (hop >= MAX_REDIRECTS) throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects`);
      current = new URL(location, current);
      continue;
    }
    return { statusCode: res.statusCode ?? 0, headers: res.headers, body: res, url: current.href };
  }
}
