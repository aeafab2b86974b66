/**
 * Squid from Debian in the foreground (-N), no cache (every request goes to the origin, as schoolgate's
 * do), an access log like any school's, its own config and folder; plain, or ssl-bump with its own CA and
 * certificate helper (Debian's squid-openssl). Run by root it drops to the `proxy` user, as packaged.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { caPaths, createCa } from '../../src/tls/ca.js';
import { originUrls, type BenchContext, type Contender } from './contender.js';
import { handOver, isRoot } from './owner.js';
import { freePort, installed, pinTo, startProcess, waitForPort } from './spawn.js';

const CERTGEN = '/usr/lib/squid/security_file_certgen';

export interface SquidConfOptions {
  dir: string;
  port: number;
  hostsFile: string;
  /** Run as this user (Squid refuses to keep root). */
  user?: string;
  bump?: { caCert: string; caKey: string; certgen: string; originCa: string };
}

export function squidConf(o: SquidConfOptions): string {
  const bump = o.bump;
  const port = bump
    ? `http_port 127.0.0.1:${o.port} ssl-bump tls-cert=${bump.caCert} tls-key=${bump.caKey} generate-host-certificates=on dynamic_cert_mem_cache_size=16MB`
    : `http_port 127.0.0.1:${o.port}`;
  return [
    port,
    `pid_filename ${o.dir}/squid.pid`,
    `cache_log ${o.dir}/cache.log`,
    `access_log stdio:${o.dir}/access.log`,
    `coredump_dir ${o.dir}`,
    `hosts_file ${o.hostsFile}`,
    'cache deny all',
    'cache_mem 8 MB',
    'shutdown_lifetime 0 seconds',
    'pinger_enable off',
    'netdb_filename none',
    'max_filedescriptors 16384',
    'acl bench src 127.0.0.1/32',
    'http_access allow bench',
    'http_access deny all',
    ...(o.user ? [`cache_effective_user ${o.user}`] : []),
    ...(bump
      ? [
          `sslcrtd_program ${bump.certgen} -s ${o.dir}/ssl_db -M 16MB`,
          'sslcrtd_children 8 startup=1 idle=1',
          'acl step1 at_step SslBump1',
          'ssl_bump peek step1',
          'ssl_bump bump all',
          `tls_outgoing_options cafile=${bump.originCa}`,
        ]
      : []),
    '',
  ].join('\n');
}

export function squid(bump: boolean): Contender {
  return {
    key: bump ? 'sqb' : 'sq',
    name: bump ? 'Squid ssl-bump' : 'Squid',
    http: !bump,
    tls: bump,
    missing() {
      if (!installed('squid')) return 'squid is not installed (Debian: apt-get install squid-openssl)';
      if (!bump) return undefined;
      const v = execFileSync('squid', ['-v'], { encoding: 'utf8' });
      if (!v.includes('--with-openssl') || !installed(CERTGEN))
        return 'this squid has no ssl-bump (Debian: apt-get install squid-openssl)';
      return undefined;
    },
    async start(ctx: BenchContext) {
      const port = await freePort();
      let bumpOptions: SquidConfOptions['bump'];
      if (bump) {
        const caDir = path.join(ctx.dir, 'ca');
        createCa(caDir, { name: 'bench Squid CA' });
        const ca = caPaths(caDir);
        execFileSync(CERTGEN, ['-c', '-s', path.join(ctx.dir, 'ssl_db'), '-M', '16MB'], { stdio: 'ignore' });
        bumpOptions = { caCert: ca.cert, caKey: ca.key, certgen: CERTGEN, originCa: ctx.tlsOrigin.caFile };
      }
      const conf = path.join(ctx.dir, 'squid.conf');
      writeFileSync(
        conf,
        squidConf({
          dir: ctx.dir,
          port,
          hostsFile: ctx.hostsFile,
          ...(isRoot() ? { user: 'proxy' } : {}),
          ...(bumpOptions ? { bump: bumpOptions } : {}),
        }),
      );
      handOver(ctx.dir, ctx.top, 'proxy');
      const p = startProcess(pinTo(0), 'squid', ['-N', '-f', conf]);
      await waitForPort(port, p, 'squid');
      return {
        process: p,
        port,
        httpUrl: originUrls(ctx, 'name'),
        headers: {},
        ...(bumpOptions ? { inspectCaFile: bumpOptions.caCert } : {}),
      };
    },
  };
}
