/**
 * Proxy selection, one row per rule of undici 7.30.2 lib/dispatcher/env-http-proxy-agent.js (the
 * client downloads used before): the constructor's variable order and https→http fallback,
 * #parseNoProxy's entry forms and #shouldProxy's matching.
 */
import { describe, expect, it } from 'vitest';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { proxyAgentFor, proxyFor } from './proxy.js';

const P = 'http://proxy.example:3128';
const Q = 'http://other.example:8080';

describe('proxyFor', () => {
  const rows: Array<[string, NodeJS.ProcessEnv, string, string | undefined]> = [
    ['no variable: direct', {}, 'http://a.example/x', undefined],
    ['HTTP_PROXY for http://', { HTTP_PROXY: P }, 'http://a.example/x', P],
    ['lower case wins (constructor: http_proxy ?? HTTP_PROXY)', { http_proxy: P, HTTP_PROXY: Q }, 'http://a.example/x', P],
    ['https:// falls back to the http proxy (constructor)', { HTTP_PROXY: P }, 'https://a.example/x', P],
    ['HTTPS_PROXY for https://', { HTTP_PROXY: P, HTTPS_PROXY: Q }, 'https://a.example/x', Q],
    ['HTTPS_PROXY is not used for http://', { HTTPS_PROXY: Q }, 'http://a.example/x', undefined],
    ['NO_PROXY host', { HTTP_PROXY: P, NO_PROXY: 'a.example' }, 'http://a.example/x', undefined],
    ['NO_PROXY host covers subdomains (#shouldProxy)', { HTTP_PROXY: P, NO_PROXY: 'example' }, 'http://a.example/x', undefined],
    ['but not a longer name that merely ends the same', { HTTP_PROXY: P, NO_PROXY: 'ample' }, 'http://a.example/x', P],
    ['leading dot dropped (#parseNoProxy)', { HTTP_PROXY: P, NO_PROXY: '.example' }, 'http://example/x', undefined],
    ['leading *. dropped (#parseNoProxy)', { HTTP_PROXY: P, NO_PROXY: '*.example' }, 'http://b.a.example/x', undefined],
    ['entries split on commas and blanks', { HTTP_PROXY: P, NO_PROXY: 'x.test, y.test a.example' }, 'http://a.example/x', undefined],
    ['a port must match', { HTTP_PROXY: P, NO_PROXY: 'a.example:8080' }, 'http://a.example/x', P],
    ['default port 80 for http://', { HTTP_PROXY: P, NO_PROXY: 'a.example:80' }, 'http://a.example/x', undefined],
    ['default port 443 for https://', { HTTP_PROXY: P, NO_PROXY: 'a.example:443' }, 'https://a.example/x', undefined],
    ['* alone exempts everything', { HTTP_PROXY: P, NO_PROXY: '*' }, 'http://a.example/x', undefined],
    ['no_proxy wins over NO_PROXY', { HTTP_PROXY: P, no_proxy: 'z.test', NO_PROXY: 'a.example' }, 'http://a.example/x', P],
    ['case-insensitive host', { HTTP_PROXY: P, NO_PROXY: 'A.Example' }, 'http://a.EXAMPLE/x', undefined],
    ['IPv4 address', { HTTP_PROXY: P, NO_PROXY: '127.0.0.1' }, 'http://127.0.0.1:8000/x', undefined],
    ['IPv6 address in brackets, as URL.host keeps them', { HTTP_PROXY: P, NO_PROXY: '[::1]' }, 'http://[::1]:8000/x', undefined],
  ];
  it.each(rows)('%s', (_what, env, url, expected) => {
    expect(proxyFor(new URL(url), env)).toBe(expected);
  });
});

describe('proxyAgentFor', () => {
  it('http:// through an absolute-URI proxy agent, https:// through a CONNECT tunnel, direct without one', () => {
    expect(proxyAgentFor(new URL('http://a.example/'), { HTTP_PROXY: P })).toBeInstanceOf(HttpProxyAgent);
    expect(proxyAgentFor(new URL('https://a.example/'), { HTTP_PROXY: P })).toBeInstanceOf(HttpsProxyAgent);
    expect(proxyAgentFor(new URL('https://a.example/'), {})).toBeUndefined();
  });
});
