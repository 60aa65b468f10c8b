/**
 * Which proxy a download goes through, from http_proxy / https_proxy / no_proxy (either case), with
 * the rules downloads have always followed (they went through undici's EnvHttpProxyAgent until
 * undici's HTTP/1.1 client had to go: see http-get.ts). Rules from undici 7.30.2
 * lib/dispatcher/env-http-proxy-agent.js:
 * - constructor: `http_proxy ?? HTTP_PROXY` for http://; `https_proxy ?? HTTPS_PROXY` for https://,
 *   falling back to the http one when unset (lower case wins, an empty value counts as set).
 * - #parseNoProxy: `no_proxy ?? NO_PROXY`, split on commas and white space; an entry may carry
 *   `:port`; a leading `.` or `*.` is dropped; compared in lower case.
 * - #shouldProxy: `*` alone exempts everything; an entry matches its host and every subdomain of it,
 *   only on its port when it names one. Ports default to 80 / 443 (getProxyAgentForUrl).
 * http:// then goes to the proxy as an absolute-URI request (as apt and curl send it: Squid, for
 * one, allows CONNECT only to port 443), https:// through a CONNECT tunnel.
 */
import type { Agent } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

function noProxyEntries(value: string): Array<{ hostname: string; port: number }> {
  return value
    .split(/[,\s]/)
    .filter(Boolean)
    .map((entry) => {
      const parsed = /^(.+):(\d+)$/.exec(entry);
      return { hostname: (parsed?.[1] ?? entry).replace(/^\*?\./, '').toLowerCase(), port: parsed ? Number.parseInt(parsed[2] as string, 10) : 0 };
    });
}

/** The proxy URL for `url`, or undefined to go direct. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY;
  const proxy = url.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY ?? httpProxy) : httpProxy;
  if (!proxy) return undefined;
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? '';
  if (noProxy === '*') return undefined;
  // URL.host keeps the brackets of an IPv6 address, as undici compares it.
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0;
  for (const entry of noProxyEntries(noProxy)) {
    if (entry.port && entry.port !== port) continue;
    if (hostname === entry.hostname || hostname.endsWith(`.${entry.hostname}`)) return undefined;
  }
  return proxy;
}

/** The agent for one request to `url`: a proxy agent, or undefined (a fresh connection, no keep-alive). */
export function proxyAgentFor(url: URL, env: NodeJS.ProcessEnv = process.env): Agent | undefined {
  const proxy = proxyFor(url, env);
  if (proxy === undefined) return undefined;
  return url.protocol === 'https:' ? new HttpsProxyAgent(proxy) : new HttpProxyAgent(proxy);
}
