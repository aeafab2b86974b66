/**
 * What the in-process latency scripts (bench-ldap, bench-first-auth) share: a one-category list folder, and
 * one plain-HTTP request through the proxy on its own connection, timed to the end of the answer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** `dir`/categories with one small category (social.test), for a proxy whose lists do not matter. */
export function tinyCategories(dir: string): string {
  const categories = path.join(dir, 'categories');
  mkdirSync(path.join(categories, 'social'), { recursive: true });
  writeFileSync(path.join(categories, 'social', 'domains'), 'social.test\n');
  writeFileSync(
    path.join(categories, 'categories.yaml'),
    'social:\n  title: Social\n  description: bench\n  flagged: false\n  alert: false\n',
  );
  return categories;
}

/** GET http://bench.test:<origin>/<path> through the proxy on a new connection: ms to the answer's end; 200 or throws. */
export function timedGet(
  proxyPort: number,
  originPort: number,
  auth: string | undefined,
  urlPath = '/',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        path: `http://bench.test:${originPort}${urlPath}`,
        headers: { host: `bench.test:${originPort}`, ...(auth ? { 'proxy-authorization': auth } : {}) },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - started)
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
