/** `schoolgate serve`: start the proxy on its embedded defaults or a config file. */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { NODE_NAME } from '../../audit/postgres/config.js';
import { primaryRole, type Primary } from '../../app/cluster/primary.js';
import { runProxyWorker } from '../../app/cluster/worker.js';
import { startSchoolgate } from '../../app/start.js';
import type { AuditStoreWhere } from '../../audit/serving-store.js';
import { describeLocation, locationOf } from '../../config/location.js';
import { createLogger } from '../../log.js';
import { configFrom, parsePort, positiveInt, withCommonOptions, type CommonOptions } from '../common.js';
import { packageVersion } from '../version.js';

interface ServeOptions extends CommonOptions {
  port?: number;
  host?: string;
  hostsFile?: string;
  certs?: string;
  integrityCheck?: boolean;
  newAuditDatabase?: boolean;
  workers?: number;
  node?: string;
}

/** serve --node: the same names as store.postgres.node. */
function parseNodeName(value: string): string {
  if (!NODE_NAME.test(value))
    throw new InvalidArgumentError('1 to 64 letters, digits, dots, hyphens or underscores');
  return value;
}

export function registerServe(program: Command): void {
  withCommonOptions(program.command('serve'))
    .description('start the filtering proxy')
    .option('--port <n>', 'port to listen on (default 3128)', parsePort)
    .option('--host <addr>', 'address to listen on (default 0.0.0.0)')
    .option(
      '--hosts-file <file>',
      'a hosts file (/etc/hosts format) whose names are routed to the addresses it gives',
    )
    .option('--certs <dir>', 'the school CA folder for HTTPS inspection (default: tls.certsDir, ./certs)')
    .option(
      '--workers <n>',
      'proxy processes sharing the port (default: config workers, 1; auto = one per core); 1 = a single process',
      positiveInt,
    )
    .option(
      '--node <name>',
      'this node’s name in the shared PostgreSQL record (store: { postgres }); overrides store.postgres.node',
      parseNodeName,
    )
    .option(
      '--integrity-check',
      'check the audit database with the full PRAGMA integrity_check at start (default: quick_check)',
    )
    .option(
      '--new-audit-database',
      'if the audit database is refused (SG_AUDIT_DAMAGED, SG_AUDIT_REPLACED), move its files aside (kept as evidence) and start a new one',
    )
    .addHelpText(
      'after',
      '\nWithout --config: $SCHOOLGATE_CONFIG, else /etc/schoolgate/config.yaml if it exists, else the\n' +
        'built-in defaults; the first lines printed say which.\n' +
        '\nExamples:\n  schoolgate serve\n  schoolgate serve --config /etc/schoolgate/config.yaml --port 8080\n' +
        '  schoolgate serve --integrity-check --new-audit-database',
    )
    .action(async (opts: ServeOptions) => {
      const overrides = {
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.hostsFile ? { hostsFile: opts.hostsFile } : {}),
      };
      // Printed at once: a first start (CA to create, lists to load, a big audit file to check) must not be
      // silent (src/app/start.ts reports each step through onProgress).
      // A proxy worker of `--workers N` says nothing: its primary prints.
      const step = (text: string) => (cluster.isWorker ? undefined : console.log(`schoolgate: ${text}`));
      step(`starting version ${packageVersion()} (node ${process.version})`);
      // The start checks file modes itself, with its logger (src/app/start.ts).
      const config = configFrom(opts, overrides, { checkModes: false });
      step(`config: ${describeLocation(locationOf(config))}`);
      const logger = createLogger(config.log.level);
      // `schoolgate reload` re-reads the same file with the same overrides.
      const startOptions = {
        reloadConfig: () => configFrom(opts, overrides, { checkModes: false }),
        ...(opts.certs ? { certsDir: opts.certs } : {}),
        integrity: opts.integrityCheck ? ('full' as const) : ('quick' as const),
        newAuditDatabase: opts.newAuditDatabase === true,
        onProgress: step,
        ...(opts.node ? { node: opts.node } : {}),
      };
      if (cluster.isWorker) return runProxyWorker(config, logger, startOptions);
      const workers = workerCount(opts.workers ?? config.workers);
      const primary: Primary | null = workers > 1 ? primaryRole(workers, logger) : null;
      const running = await startSchoolgate(config, logger, {
        ...startOptions,
        ...(primary ? { cluster: primary } : {}),
      });
      const setAside = running.auditOpened?.setAside;
      const { address, port } = running.address;
      const shown = address === '0.0.0.0' || address === '::' ? '<this machine>' : address;
      logger.info(
        {
          address,
          port,
          config: locationOf(config).file,
          data: config.dataDir,
          categories: config.categoriesDir,
        },
        'schoolgate listening',
      );
      console.log(
        [
          `schoolgate is filtering on ${address}:${port}`,
          `  config:     ${describeLocation(locationOf(config))}`,
          `  audit log:  ${auditWhere(running.audit.where)}`,
          ...(setAside
            ? [
                `  NEW audit database: the refused one (${setAside.code}) was moved to ${setAside.folder}; keep it as evidence`,
              ]
            : []),
          `  categories: ${config.categoriesDir}`,
          ...(primary
            ? [
                `  workers:    ${workers} proxy processes (pids ${primary.pids().join(', ')}); this one (pid ${process.pid}) writes the audit log`,
              ]
            : []),
          ...(running.proxy.tls
            ? [`  HTTPS inspection: on; devices must trust the school CA: http://<proxy>:${port}/ca.crt`]
            : []),
          ...(running.console
            ? [
                `  web console: ${running.console.url} (staff networks; certificate from the school CA)`,
                '    first account: schoolgate console users add NAME --role headteacher|dsl|technician|auditor',
              ]
            : config.console.enabled
              ? ['  web console: NOT started (see the log above)']
              : []),
          `Point a browser at it: set the HTTP and HTTPS proxy to ${shown}:${port},`,
          `or use automatic proxy configuration: http://${shown === '<this machine>' ? '127.0.0.1' : shown}:${port}/proxy.pac`,
          'Stop with Ctrl+C (every queued audit record is committed first; a second Ctrl+C cuts open connections).',
        ].join('\n'),
      );
      // Workers in a crash loop (SG_WORKER_FAILED): the rest stop, then the error exits 1 (src/cli/main.ts).
      let failed: Error | null = null;
      await new Promise<void>((resolve) => {
        let signals = 0;
        // The first signal lets what is in flight finish within limits.shutdownGraceMs; a second one (an
        // impatient operator, or systemd's stop timeout) cuts it now. Either way every record is committed.
        const stop = (signal: string) => {
          signals++;
          if (signals > 1) logger.warn({ signal }, 'stopping now: cutting open connections, then committing');
          else logger.info({ signal }, 'stopping: committing queued audit records');
          (signals > 1 ? running.stopNow() : running.stop()).then(resolve, (err: unknown) => {
            logger.error({ err }, 'error while stopping');
            resolve();
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
        primary?.onGiveUp((err) => {
          failed = err;
          stop('crash loop');
        });
      });
      logger.info('stopped');
      if (failed) throw failed;
    });
}

/** `--workers`/config `workers`: auto is one proxy process per core. */
function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

function auditWhere(where: AuditStoreWhere): string {
  return where.kind === 'sqlite' ? where.path : `PostgreSQL ${where.server}, node ${where.node}`;
}
