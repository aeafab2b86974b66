/** The loopback origins the contenders forward to, on the load generator's core. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createCa } from '../../src/tls/ca.js';
import {
  freePort,
  installed,
  pinTo,
  startProcess,
  waitForOutput,
  waitForPort,
  type Started,
} from './spawn.js';

const here = path.dirname(new URL(import.meta.url).pathname);

/** nginx in the foreground, one process, no access log, static 1 KB and 100 KB files, long keep-alive. */
export function nginxConf(dir: string, port: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
  }
}
`;
}

export interface Origin {
  name: string;
  port: number;
  process: Started;
}

/** nginx from Debian when installed, else the Node origin. */
export async function startHttpOrigin(dir: string): Promise<Origin> {
  const pin = pinTo(1);
  if (installed('nginx')) {
    const root = path.join(dir, 'nginx');
    mkdirSync(path.join(root, 'www'), { recursive: true });
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    writeFileSync(path.join(root, 'www', '1k'), Buffer.alloc(1024, 'x'));
    writeFileSync(path.join(root, 'www', '100k'), Buffer.alloc(100 * 1024, 'x'));
    const port = await freePort();
    writeFileSync(path.join(root, 'nginx.conf'), nginxConf(root, port));
    const p = startProcess(pin, 'nginx', ['-p', root, '-c', path.join(root, 'nginx.conf')]);
    await waitForPort(port, p, 'nginx');
    return { name: 'nginx', port, process: p };
  }
  const p = startProcess(pin, process.execPath, [path.join(here, 'origin-server.js'), 'http']);
  const m = await waitForOutput(p, /ready (\d+)/, 'Node origin');
  return { name: 'Node http', port: Number(m[1]), process: p };
}

/** The HTTPS origin and the CA ("public" to the contenders: each is told to trust it). */
export async function startTlsOrigin(dir: string): Promise<Origin & { caFile: string; caPem: string }> {
  const caDir = path.join(dir, 'origin-ca');
  const { ca } = createCa(caDir, { name: 'bench public CA' });
  const caFile = path.join(dir, 'origin-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const p = startProcess(pinTo(1), process.execPath, [path.join(here, 'origin-server.js'), 'https', caDir]);
  const m = await waitForOutput(p, /ready (\d+)/, 'HTTPS origin');
  return { name: 'Node https, a leaf per host', port: Number(m[1]), process: p, caFile, caPem: ca.certPem };
}
