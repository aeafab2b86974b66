/**
 * Before a contender is measured on plain HTTP: one request through it must come back 200 with the whole
 * body, so a contender answering with a block or error page is never timed as if it forwarded.
 */
import http from 'node:http';
import type { Running } from './contender.js';

export function checkForwards(r: Running, route: string, bytes: number): Promise<string | undefined> {
  const url = r.httpUrl(route);
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: r.port,
        path: url,
        headers: { ...r.headers, host: new URL(url).host },
        agent: false,
      },
      (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () =>
          resolve(
            res.statusCode === 200 && got === bytes
              ? undefined
              : `GET ${url} answered ${res.statusCode} with ${got} bytes, not 200 with ${bytes}`,
          ),
        );
        res.on('error', (err) => resolve(`GET ${url}: ${err.message}`));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (err) => resolve(`GET ${url}: ${err.message}`));
  });
}
