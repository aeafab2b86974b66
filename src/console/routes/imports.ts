/**
 * The technician's imports: a domain list into a category (as `schoolgate lists import`) and a users CSV
 * (as `schoolgate users import`), pasted into a form (the CSP allows no script, and a pasted list needs no
 * upload plugin). The POST starts a background job (../imports.ts) and redirects to its page, which shows
 * a <progress> of the real import (lines read, rows written) and refreshes itself each second until the
 * summary. A refused import (its SG code on the page) changes nothing: the lists in force stay.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../../app/file-modes.js';
import { SchoolgateError } from '../../errors.js';
import {
  IMPORT_FORMATS as USER_FORMATS,
  type ImportFormat as UserFormat,
} from '../../identity/import/formats.js';
import { skippedSummary } from '../../identity/import/plan.js';
import { importUsers } from '../../identity/import/run.js';
import { tellRunningProxy } from '../../identity/user-admin.js';
import { catalogue } from '../../lists/catalogue.js';
import { IMPORT_FORMATS as LIST_FORMATS, type ImportFormat as ListFormat } from '../../lists/import.js';
import { importAndRecord } from '../../lists/import-record.js';
import { html, type SafeHtml } from '../../proxy/pages/html.js';
import { byOf } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import type { ImportJob } from '../imports.js';
import { field, reasonOf, tableOf } from '../pages/forms.js';
import { message } from '../pages/layout.js';

/** The pasted text, whole (not trimmed or cut like other fields), within console.importMaxKiB. */
function pasted(ctx: ConsoleContext, body: unknown): string {
  const v = (body as Record<string, unknown> | undefined)?.text;
  const text = typeof v === 'string' ? v : '';
  const limit = ctx.config.console.importMaxKiB * 1024;
  if (Buffer.byteLength(text) > limit)
    throw new SchoolgateError(
      'SG_CONSOLE_IMPORT_REFUSED',
      `the text sent is ${Math.ceil(Buffer.byteLength(text) / 1024)} KiB; the console takes ${ctx.config.console.importMaxKiB} KiB at most`,
      {
        suggestion:
          'split it, or import it with the CLI on the server (schoolgate lists import / users import)',
      },
    );
  if (text.trim() === '')
    throw new SchoolgateError('SG_ARGUMENT_INVALID', 'nothing to import: the text is empty', {
      suggestion: 'paste the list or the CSV into the box',
    });
  return text;
}

/** Lines as the importer counts them (read-lines.ts): one per newline, plus an unfinished last one. */
export function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') || text === '' ? n : n + 1;
}

function choice<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${value}" is not a ${what}`, {
    suggestion: `choose one of: ${allowed.join(', ')}`,
  });
}

const options = (values: readonly string[]) => values.map((v) => html`<option value="${v}">${v}</option>`);

function progressOf(job: Readonly<ImportJob>): SafeHtml {
  const label = `${job.done} of ${job.total > 0 ? job.total : '?'} ${job.unit}`;
  return job.total > 0
    ? html`<p>
        <label for="progress">Progress</label>
        <progress id="progress" value="${String(job.done)}" max="${String(job.total)}">${label}</progress>
        ${label}
      </p>`
    : html`<p>
        <label for="progress">Progress</label>
        <progress id="progress">${label}</progress> reading…
      </p>`;
}

export function importRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['technician'], command);
  const bodyLimit = ctx.config.console.importMaxKiB * 1024 * 3 + 64 * 1024; // percent-encoding triples a byte
  const post = (command: string) => ({ bodyLimit, preHandler: [app.csrfProtection, only(command)] });
  const spoolDir = path.join(ctx.config.dataDir, 'console-imports');

  app.get('/imports', { preHandler: only('imports') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const categories = [
      ...(await catalogue({ categoriesDir: ctx.config.categoriesDir, dataDir: ctx.config.dataDir })).keys(),
    ].sort();
    const jobs = ctx.imports.recent();
    return sendPage(
      reply,
      200,
      'Imports',
      html`<p>
          One import at a time, at most ${String(ctx.config.console.importMaxKiB)} KiB. Each is checked whole
          first: a refused one changes nothing.
        </p>
        ${
          jobs.length === 0
            ? ''
            : tableOf(
                ['Started', 'What', 'By', 'State'],
                jobs.map(
                  (j) =>
                    html`<tr>
                      <td>${new Date(j.startedAt).toISOString()}</td>
                      <td><a href="/imports/${j.id}">${j.what}</a></td>
                      <td>${j.by}</td>
                      <td>${j.state}</td>
                    </tr>`,
                ),
              )
        }
        <h2>A domain list into a category</h2>
        <form method="post" action="/imports/list">
          ${csrfField(viewer.csrf)}
          <label for="category">Category</label>
          <select id="category" name="category">
            ${options(categories)}
          </select>
          <label for="list-format">Format</label>
          <select id="list-format" name="format">
            ${options(['plain', ...LIST_FORMATS.filter((f) => f !== 'plain')])}
          </select>
          <label for="replace"
            ><input id="replace" name="replace" type="checkbox" value="1" /> Replace the category’s local
            entries (else add to them)</label
          >
          <label for="list-text">The list, one domain or URL a line</label>
          <textarea id="list-text" name="text" rows="10" required></textarea>
          <label for="list-reason">Reason (recorded)</label
          ><input id="list-reason" name="reason" type="text" required />
          <button type="submit">Import the list</button>
        </form>
        <h2>Users from a CSV</h2>
        <form method="post" action="/imports/users">
          ${csrfField(viewer.csrf)}
          <label for="users-format">Kind of export</label>
          <select id="users-format" name="format">
            ${options(USER_FORMATS)}
          </select>
          <label for="map">Group → profile, one a line (e.g. Year 7=pupil; adds to identity.importMap)</label>
          <textarea id="map" name="map" rows="3"></textarea>
          <label for="users-text">The CSV, its header row first</label>
          <textarea id="users-text" name="text" rows="10" required></textarea>
          <label for="users-reason">Reason (recorded)</label
          ><input id="users-reason" name="reason" type="text" required />
          <button type="submit">Import the users</button>
        </form>`,
      viewer,
    );
  });

  /** Writes the pasted list where the importer reads files (owner-only), removed when the job ends. */
  async function spool(text: string): Promise<{ file: string; remove: () => Promise<void> }> {
    makePrivateDir(spoolDir);
    const dir = await mkdtemp(path.join(spoolDir, 'list-'));
    const file = path.join(dir, 'list.txt');
    await writeFile(file, text, { mode: PRIVATE_FILE_MODE });
    return { file, remove: () => rm(dir, { recursive: true, force: true }) };
  }

  const by = (req: FastifyRequest) => byOf(req.consoleSession!);

  /** A job that could not start (another began meanwhile) leaves no spooled file behind. */
  async function startOrRemove(remove: () => Promise<void>, start: () => Readonly<ImportJob>) {
    try {
      return start();
    } catch (err) {
      await remove();
      throw err;
    }
  }

  /** The import is written either way; a refused reload is said, and the lists in force keep serving. */
  async function reloaded(): Promise<string> {
    try {
      await ctx.reload();
      return 'the running proxy reloaded';
    } catch (err) {
      ctx.logger.error({ err: String(err) }, 'reload after a console import failed');
      const code = (err as { code?: string }).code ?? '';
      return `the import is written, but the running proxy did not reload (${code || 'see the log'}): the lists in force keep serving until a reload succeeds`;
    }
  }

  app.post('/imports/list', post('lists import'), async (req, reply) => {
    const reason = reasonOf(req.body);
    const text = pasted(ctx, req.body);
    const category = field(req.body, 'category');
    const format = choice<ListFormat>(field(req.body, 'format'), LIST_FORMATS, 'list format');
    const replace = field(req.body, 'replace') === '1';
    ctx.imports.assertFree();
    const total = lineCount(text);
    const { file, remove } = await spool(text);
    const job = await startOrRemove(remove, () =>
      ctx.imports.start(
        { what: `domain list into ${category}`, by: by(req), unit: 'lines', total },
        async (progress) => {
          const summary = await importAndRecord(ctx.config, category, file, {
            format,
            replace,
            onProgress: (p) => progress(p.lines, total),
            reason,
            by: by(req),
            sourceName: `console upload (${total} lines)`,
          });
          return [
            `imported into ${category}: ${summary.added} added, ${summary.duplicate} duplicate, ${summary.invalid} invalid, ${summary.skipped} skipped (${summary.lines} lines)`,
            ...summary.invalidLines.map((l) => `invalid line ${l.line}: ${l.text} (${l.reason})`),
            await reloaded(),
          ];
        },
        remove,
      ),
    );
    return reply.code(303).header('location', `/imports/${job.id}`).send();
  });

  app.post('/imports/users', post('users import'), async (req, reply) => {
    const reason = reasonOf(req.body);
    const text = pasted(ctx, req.body);
    const format = choice<UserFormat | 'auto'>(field(req.body, 'format'), USER_FORMATS, 'kind of export');
    const map = field(req.body, 'map')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const job = ctx.imports.start(
      { what: 'users CSV', by: by(req), unit: 'rows', total: 0 },
      async (progress) => {
        let last = Promise.resolve();
        const {
          format: read,
          plan,
          skipped,
        } = await importUsers(
          ctx.config,
          { text, name: 'the CSV sent' },
          { format, map, reason, by: by(req) },
          (done, total) => void (last = progress(done, total)),
        );
        await last;
        await tellRunningProxy(ctx.config.dataDir);
        const count = (k: string) => plan.filter((p) => p.change === k).length;
        return [
          `${read}: ${count('add')} added, ${count('update')} updated, ${count('unchanged')} unchanged, ${skipped.length} skipped`,
          ...plan
            .filter((p) => p.change !== 'unchanged')
            .map((p) => `${p.change} ${p.row.name} (${p.row.profile})`),
          ...Object.entries(skippedSummary(skipped)).map(
            ([why, s]) => `skipped ${why}: ${s.count}${s.groups ? ` (${s.groups.join(', ')})` : ''}`,
          ),
        ];
      },
    );
    return reply.code(303).header('location', `/imports/${job.id}`).send();
  });

  app.get('/imports/:id', { preHandler: only('imports') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const job = ctx.imports.get((req.params as { id: string }).id);
    if (!job)
      return sendPage(
        reply,
        404,
        'Import',
        message('There is no such import (a restart forgets them).'),
        viewer,
      );
    const head = html`<p>${job.what}, started by ${job.by} at ${new Date(job.startedAt).toISOString()}.</p>`;
    if (job.state === 'running')
      return sendPage(reply, 200, 'Import running', html`${head}${progressOf(job)}`, viewer, 1);
    if (job.state === 'failed')
      return sendPage(
        reply,
        200,
        'Import refused',
        html`${head}${message(job.error!.message)}
          <p class="note">
            Nothing was imported: the lists and users in force are unchanged. ${job.error!.suggestion ?? ''}
            ${job.error!.code ? `(${job.error!.code})` : ''}
          </p>
          <p><a href="/imports">Back to imports</a></p>`,
        viewer,
      );
    return sendPage(
      reply,
      200,
      'Import done',
      html`${head}${progressOf(job)}
        <ul>
          ${job.summary.map((line) => html`<li>${line}</li>`)}
        </ul>
        <p><a href="/imports">Back to imports</a></p>`,
      viewer,
    );
  });
}
