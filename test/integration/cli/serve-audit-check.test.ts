/**
 * The real `schoolgate serve` process checks its audit database before it trusts it: a damaged, emptied or
 * replaced database refuses to start with an SG code saying what to do; `--new-audit-database` keeps the
 * old files as evidence and starts a new one, said in the banner, the log and `status`; a clean stop and a
 * crash (SIGKILL) both start again. Real processes, real files, loopback only.
 */
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, truncateSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../../src/app/status.js';
import { fillAuditDatabase, overwriteMiddle, sha256Of } from '../audit/damage.js';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { serveFiles } from '../../helpers/schoolgate.js';

const started: ChildProcess[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child);
  }
});

function setUp(): { dir: string; data: string; db: string; args: string[] } {
  const files = serveFiles();
  return { ...files, db: path.join(files.data, 'audit.sqlite') };
}

async function serve(args: string[]) {
  const s = await startServeProcess(args);
  started.push(s.child);
  return s;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  await waitForExit(child);
}

async function blockedRequests(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await viaProxy(port, `http://blocked.example/${i}`)).status).toBe(403);
}

async function status(args: string[]): Promise<StatusReport> {
  return JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusReport;
}

function rowCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM audit_events').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('serve checks the audit database before it trusts it', { timeout: 90_000 }, () => {
  it('refuses a damaged database; --new-audit-database keeps it aside and starts a new one', async () => {
    const { data, db, args } = setUp();
    await fillAuditDatabase(db, 3000);
    overwriteMiddle(db);
    const damaged = sha256Of(db);

    const refused = await runCli(['serve', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).not.toContain('filtering on');
    expect(refused.stderr).toMatch(
      new RegExp(
        `^error SG_AUDIT_DAMAGED: The audit database ${db} is damaged: quick_check (found|failed): `,
      ),
    );
    expect(refused.stderr).toContain(
      `what to do: Keep the files as evidence; do not delete or edit them. If the database was moved or ` +
        `restored by mistake, put the right file back. Otherwise start with \`schoolgate serve --new-audit-database\``,
    );
    expect(sha256Of(db)).toBe(damaged);

    const s = await serve([...args, '--new-audit-database']);
    const folder = readdirSync(data).find((f) => f.startsWith('audit-set-aside-'));
    expect(folder).toBeDefined();
    const aside = path.join(data, folder!);
    expect(s.output()).toContain(
      `NEW audit database: the refused one (SG_AUDIT_DAMAGED) was moved to ${aside}; keep it as evidence`,
    );
    expect(s.output()).toContain(
      `"msg":"audit: --new-audit-database: the refused audit database was moved to ${aside}; a new audit database was started at ${db}"`,
    );
    await blockedRequests(s.port, 2);
    const st = await status(args);
    expect(st.auditDatabase).toMatchObject({
      path: db,
      created: 'missing',
      replacedAtThisStart: true,
      replaced: { folder: aside, code: 'SG_AUDIT_DAMAGED', files: [db, path.join(data, 'audit.head')] },
    });
    const text = (await runCli(['status', ...args])).stdout;
    expect(text).toMatch(/^audit replaced AT THIS START: the refused database \(SG_AUDIT_DAMAGED: /m);
    await stop(s.child, 'SIGTERM');
    expect(s.child.exitCode).toBe(0);

    expect(sha256Of(path.join(aside, 'audit.sqlite'))).toBe(damaged);
    expect(rowCount(db)).toBe(2);
  });

  it('refuses an emptied database and another audit database put in its place', async () => {
    const { dir, db, args } = setUp();
    const first = await serve(args);
    await blockedRequests(first.port, 3);
    await stop(first.child, 'SIGTERM');

    const original = path.join(dir, 'original.sqlite');
    copyFileSync(db, original);
    truncateSync(db, 0);
    const empty = await runCli(['serve', ...args]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(
      new RegExp(
        `^error SG_AUDIT_REPLACED: The audit database ${db} is not the one schoolgate last wrote: ` +
          'the database file is empty \\(0 bytes\\); the head file records seq 3 of database [0-9a-f]{32}',
      ),
    );
    expect(readFileSync(db).length).toBe(0);

    const other = path.join(dir, 'other', 'audit.sqlite');
    await fillAuditDatabase(other, 3);
    copyFileSync(other, db);
    const replaced = await runCli(['serve', ...args]);
    expect(replaced.code).toBe(1);
    expect(replaced.stderr).toMatch(/^error SG_AUDIT_REPLACED: .*: it is another audit database \(/);

    copyFileSync(original, db); // the right file back: it starts
    const back = await serve(args);
    expect((await status(args)).auditDatabase?.checked).toMatchObject({ mode: 'quick', recordedHeadSeq: 3 });
    await stop(back.child, 'SIGTERM');
  });

  it('starts again after a clean stop (full check on request) and after SIGKILL', async () => {
    const { data, db, args } = setUp();
    const first = await serve(args);
    await blockedRequests(first.port, 3);
    await stop(first.child, 'SIGTERM');
    expect(JSON.parse(readFileSync(path.join(data, 'audit.head'), 'utf8'))).toMatchObject({ seq: 3 });

    const second = await serve([...args, '--integrity-check']);
    expect((await status(args)).auditDatabase?.checked).toMatchObject({ mode: 'full', recordedHeadSeq: 3 });
    await blockedRequests(second.port, 3);
    await stop(second.child, 'SIGKILL'); // no clean close: the head file still names an older row

    const third = await serve(args);
    const checked = (await status(args)).auditDatabase!.checked!;
    expect(checked.recordedHeadSeq).toBeGreaterThanOrEqual(3);
    expect(checked.recordedHeadSeq).toBeLessThanOrEqual(6);
    await blockedRequests(third.port, 1);
    await stop(third.child, 'SIGTERM');
    expect(rowCount(db)).toBe(7);
  });
});
