/** The other contenders: mitmproxy (mitmdump), e2guardian, and the bare Node forwarder (the floor). */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { originUrls, type Contender } from './contender.js';
import { handOver } from './owner.js';
import { freePort, installed, pinTo, startProcess, waitForOutput, waitForPort } from './spawn.js';

const here = path.dirname(new URL(import.meta.url).pathname);

/** mitmproxy has no hosts file: this addon sends every *.bench.test connection to 127.0.0.1 (SNI kept). */
export const MITM_ROUTE_ADDON = `def server_connect(data):
    host, port = data.server.address
    if host.endswith(".bench.test"):
        data.server.address = ("127.0.0.1", port)
`;

export function mitmproxy(): Contender {
  return {
    key: 'mitm',
    name: 'mitmproxy (mitmdump)',
    http: true,
    tls: true,
    missing: () =>
      installed('mitmdump') ? undefined : 'mitmdump is not installed (Debian: apt-get install mitmproxy)',
    async start(ctx) {
      const port = await freePort();
      const addon = path.join(ctx.dir, 'route.py');
      writeFileSync(addon, MITM_ROUTE_ADDON);
      const confdir = path.join(ctx.dir, 'conf');
      mkdirSync(confdir, { recursive: true });
      const p = startProcess(pinTo(0), 'mitmdump', [
        '--listen-host',
        '127.0.0.1',
        '--listen-port',
        String(port),
        '--set',
        `confdir=${confdir}`,
        '--set',
        `ssl_verify_upstream_trusted_ca=${ctx.tlsOrigin.caFile}`,
        '-q',
        '-s',
        addon,
      ]);
      await waitForPort(port, p, 'mitmdump');
      return {
        process: p,
        port,
        httpUrl: originUrls(ctx, 'name'),
        headers: {},
        inspectCaFile: path.join(confdir, 'mitmproxy-ca-cert.pem'),
      };
    },
  };
}

/**
 * e2guardian's packaged configuration (its default lists and story files, going direct to the origin)
 * with the port, pid file, log and foreground mode changed. It resolves names itself (no hosts file), so it
 * is asked for 127.0.0.1 by address. HTTP only: its HTTPS inspection needs a CA set up by hand.
 */
export function e2guardianConf(
  packaged: string,
  o: { port: number; httpsPort: number; dir: string },
): string {
  const set: Record<string, string> = {
    filterip: '127.0.0.1',
    filterports: String(o.port),
    transparenthttpsport: String(o.httpsPort),
    nodaemon: 'on',
    pidfilename: `'${o.dir}/e2guardian.pid'`,
    loglocation: `'${o.dir}/access.log'`,
  };
  const seen = new Set<string>();
  const lines = packaged.split('\n').map((line) => {
    const m = /^#?\s*([a-z]+)\s*=/.exec(line);
    const key = m?.[1];
    if (key === undefined || !(key in set) || seen.has(key)) return line;
    seen.add(key);
    return `${key} = ${set[key]}`;
  });
  for (const [k, v] of Object.entries(set)) if (!seen.has(k)) lines.push(`${k} = ${v}`);
  return `${lines.join('\n')}\n`;
}

export function e2guardian(): Contender {
  return {
    key: 'e2g',
    name: 'e2guardian',
    http: true,
    tls: false,
    missing: () =>
      installed('e2guardian')
        ? undefined
        : 'e2guardian is not installed (Debian: apt-get install e2guardian)',
    async start(ctx) {
      const port = await freePort();
      const conf = path.join(ctx.dir, 'e2guardian.conf');
      const packaged = '/etc/e2guardian/e2guardian.conf';
      writeFileSync(
        conf,
        e2guardianConf(readFileSync(packaged, 'utf8'), { port, httpsPort: await freePort(), dir: ctx.dir }),
      );
      // Its filter group's file is found beside the main one, by name.
      copyFileSync('/etc/e2guardian/e2guardianf1.conf', path.join(ctx.dir, 'e2guardianf1.conf'));
      handOver(ctx.dir, ctx.top, 'e2guardian');
      const p = startProcess(pinTo(0), 'e2guardian', ['-N', '-c', conf]);
      await waitForPort(port, p, 'e2guardian');
      return {
        process: p,
        port,
        httpUrl: originUrls(ctx, 'address'),
        headers: {},
      };
    },
  };
}

/** scripts/bare-forwarder.ts: http-proxy and nothing else; plain HTTP only. */
export function bareForwarder(): Contender {
  return {
    key: 'bare',
    name: 'bare forwarder',
    http: true,
    tls: false,
    missing: () => undefined,
    async start(ctx) {
      const p = startProcess(pinTo(0), process.execPath, [path.join(here, '..', 'bare-forwarder.js'), '0']);
      const m = await waitForOutput(p, /bare forwarder on (\d+)/, 'bare forwarder');
      return {
        process: p,
        port: Number(m[1]),
        httpUrl: originUrls(ctx, 'address'),
        headers: {},
      };
    },
  };
}
