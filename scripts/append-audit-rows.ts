/**
 * Appends rows to an audit database through the real writer (chained, checkpoint signed at open and close),
 * as a running proxy would between two checks: for timing `audit verify --since-verified` after N new rows.
 *
 *   node dist/scripts/append-audit-rows.js --db /work/bigdb/d10m/audit.sqlite --rows 10000
 */
import { randomUUID } from 'node:crypto';
import { openSqliteAuditStore } from '../src/audit/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const DB = arg('db', '/tmp/audit-gen.sqlite');
const ROWS = Number(arg('rows', '10000'));
const BATCH = 500;

const store = openSqliteAuditStore({ path: DB, batchMaxRows: BATCH });
const start = Date.now();
for (let i = 0; i < ROWS; i += BATCH)
  await Promise.all(
    Array.from({ length: Math.min(BATCH, ROWS - i) }, (_, j) =>
      store.record({
        id: randomUUID(),
        time: start + i + j,
        user: `pupil${String((i + j) % 2500).padStart(4, '0')}`,
        profile: 'pupil',
        clientIp: '10.1.0.1',
        device: null,
        method: 'CONNECT',
        scheme: 'https',
        host: 'www.bbc.co.uk',
        port: 443,
        path: null,
        categories: [],
        action: 'allow',
        rule: 'default',
        reason: 'default',
        flagged: false,
        status: 200,
      }),
    ),
  );
await store.close();
console.log(`appended ${ROWS} rows to ${DB}`);
