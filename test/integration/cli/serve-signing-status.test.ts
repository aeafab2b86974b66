/**
 * A checkpoint signing key the writer cannot use (issue 10): the real `serve` process still filters and
 * records every request, and `schoolgate status` and /healthz say that signing is failing, with its SG code,
 * instead of only a line in the log. A start with a good key says ok.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../../src/app/status.js';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { ownPage, viaProxy } from '../../helpers/raw-http.js';
import { serveFiles } from '../../helpers/schoolgate.js';

const started: ChildProcess[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child);
  }
});

async function serve(args: string[]) {
  const s = await startServeProcess(args);
  started.push(s.child);
  return s;
}

describe('status shows whether the audit record is being signed', { timeout: 90_000 }, () => {
  it('says FAILING with SG_AUDIT_SIGNING_FAILED when the key cannot be used, and still records', async () => {
    const { data, args } = serveFiles();
    mkdirSync(path.join(data, 'keys'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(data, 'keys', 'audit-signing.key'), 'not a PEM key\n', { mode: 0o600 });
    const s = await serve(args);
    expect(s.output()).toContain('cannot read or create the checkpoint signing key');

    const text = await runCli(['status', ...args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^audit signing {2}FAILING \(SG_AUDIT_SIGNING_FAILED\) since \S+: cannot read/m,
    );
    const json = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusReport;
    expect(json.auditSigning).toMatchObject({ state: 'failing', code: 'SG_AUDIT_SIGNING_FAILED' });

    // Fail closed means the filter keeps recording: the request is blocked and its row committed.
    expect((await viaProxy(s.port, 'http://blocked.example/')).status).toBe(403);
    const health = JSON.parse(await ownPage(s.port, '/healthz')) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', auditSigning: 'failing' });
    s.child.kill('SIGTERM');
    await waitForExit(s.child);
    const db = new Database(path.join(data, 'audit.sqlite'), { readonly: true });
    expect(db.prepare(`SELECT count(*) FROM audit_events WHERE host = 'blocked.example'`).pluck().get()).toBe(
      1,
    );
    db.close();
  });

  it('says ok when checkpoints are signed', async () => {
    const { args } = serveFiles();
    const s = await serve(args);
    const text = await runCli(['status', ...args]);
    expect(text.stdout).toMatch(/^audit signing {2}ok /m);
    const health = JSON.parse(await ownPage(s.port, '/healthz')) as Record<string, unknown>;
    expect(health).not.toHaveProperty('auditSigning');
  });
});
