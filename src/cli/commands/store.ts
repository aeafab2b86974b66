/** `schoolgate store migrate`: move a school's audit record from SQLite to the shared PostgreSQL (issue 18). */
import type { Command } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

interface MigrateFlags extends CommonOptions {
  from: string;
  to: string;
  url?: string;
  node?: string;
  json?: boolean;
}

export function registerStore(program: Command): void {
  const store = program.command('store').description('where the audit record is kept (SQLite or PostgreSQL)');
  withCommonOptions(store.command('migrate'))
    .description(
      'copy this school’s audit rows from SQLite into PostgreSQL as one node’s chain, hashes intact; verifies ' +
        'before and after and keeps nothing if either fails. Stop serve first',
    )
    .requiredOption('--from <engine>', 'the store to copy from: sqlite')
    .requiredOption('--to <engine>', 'the store to copy to: postgres')
    .option('--url <url>', 'postgres://user@host:port/database (default: store.postgres in the config)')
    .option('--node <name>', 'the node the rows become (default: store.postgres.node, else the host name)')
    .option('--json', 'JSON output')
    .action(async (opts: MigrateFlags) => {
      if (opts.from !== 'sqlite' || opts.to !== 'postgres')
        throw new SchoolgateError(
          'SG_ARGUMENT_INVALID',
          'store migrate copies --from sqlite --to postgres only.',
          {
            context: { from: opts.from, to: opts.to },
          },
        );
      const [{ connectOptions, nodeName }, { migrateSqliteToPostgres }, { auditPathOf }] = await Promise.all([
        import('../../audit/postgres/config.js'),
        import('../../audit/postgres/migrate-from-sqlite.js'),
        import('../../reports/run.js'),
      ]);
      const config = configFrom(opts);
      const configured = typeof config.store === 'object' ? config.store.postgres : null;
      if (!opts.url && !configured)
        throw new SchoolgateError(
          'SG_ARGUMENT_INVALID',
          'store migrate needs --url, or store.postgres in the config.',
        );
      const target = opts.url ? { connectionString: opts.url } : connectOptions(configured!);
      const node = opts.node ?? nodeName(configured ?? {});
      const progress =
        process.stderr.isTTY && !opts.json
          ? (copied: number, total: number) => process.stderr.write(`\rcopied ${copied} of ${total} rows…`)
          : undefined;
      const result = await migrateSqliteToPostgres({
        sqlitePath: auditPathOf(config),
        target,
        node,
        ...(progress ? { onProgress: progress } : {}),
        onWaiting: () =>
          process.stderr.write(
            'another store migrate is copying into this database; waiting for it to commit…\n',
          ),
      });
      if (progress) process.stderr.write('\n');
      if (opts.json) console.log(JSON.stringify(result));
      else
        console.log(
          `ok: ${result.rows} rows copied to node ${result.node} in ${result.copySeconds.toFixed(1)} s ` +
            `(${result.rowsPerSecond} rows/s), ${result.gaps} purge gaps; verified on SQLite before and on ` +
            `PostgreSQL after: chain head seq ${result.after.head.seq} ${result.after.head.hash}`,
        );
    });
}
