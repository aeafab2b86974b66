/**
 * HTTPS downloads for `lists update`: only https (a plain-http redirect is refused), bounded size, an idle
 * timeout, the system CAs plus a source's own `ca`, at most 3 redirects. The body is streamed to a file
 * (owner-only) while it is hashed, so a tarball of hundreds of megabytes is never held in memory.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { rootCertificates } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { PRIVATE_FILE_MODE } from '../../app/file-modes.js';
import { SchoolgateError } from '../../errors.js';

export interface FetchOptions {
  /** Extra CA file (PEM), trusted besides the system store. */
  ca: string | null;
  maxBytes: number;
  /** No byte for this long: the download is abandoned. */
  idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 3;
const IDLE_TIMEOUT_MS = 30_000;

function downloadError(url: string, detail: string, cause?: unknown): SchoolgateError {
  return new SchoolgateError('SG_LIST_DOWNLOAD_FAILED', `cannot download ${url}: ${detail}`, {
    context: { url },
    suggestion:
      'check the URL in lists.sources and that this server reaches it (`curl -I URL`); the lists in force stay',
    ...(cause ? { cause } : {}),
  });
}

function trustedCas(ca: string | null, url: string): string[] | undefined {
  if (ca === null) return undefined;
  try {
    return [...rootCertificates, readFileSync(ca, 'utf8')];
  } catch (err) {
    throw downloadError(url, `cannot read the CA file ${ca}: ${(err as Error).message}`, err);
  }
}

/** The response of a GET, redirects followed (https only). */
async function get(url: string, opts: FetchOptions, hops = 0): Promise<IncomingMessage> {
  if (!url.startsWith('https://')) throw downloadError(url, 'only https:// is fetched');
  const ca = trustedCas(opts.ca, url);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = https.get(url, {
      ...(ca ? { ca } : {}),
      headers: { 'user-agent': 'schoolgate-lists-update' },
    });
    req.setTimeout(opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () =>
      req.destroy(new Error('no answer within the timeout')),
    );
    req.on('response', resolve);
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(downloadError(url, err.code ? `${err.code} ${err.message}` : err.message, err)),
    );
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (hops >= MAX_REDIRECTS) throw downloadError(url, `more than ${MAX_REDIRECTS} redirects`);
    return get(new URL(res.headers.location, url).toString(), opts, hops + 1);
  }
  if (status !== 200) {
    res.resume();
    throw downloadError(url, `HTTP ${status}`);
  }
  const length = Number(res.headers['content-length'] ?? NaN);
  if (length > opts.maxBytes) {
    res.destroy();
    throw downloadError(url, `${length} bytes, more than the ${opts.maxBytes} allowed`);
  }
  return res;
}

/** Counts bytes through the stream and fails it past the limit. */
function limiter(url: string, maxBytes: number, onChunk: (c: Buffer) => void): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) return done(downloadError(url, `more than the ${maxBytes} bytes allowed`));
      onChunk(chunk);
      done(null, chunk);
    },
  });
}

/** A small text file (a checksum list), whole. */
export async function fetchText(url: string, opts: FetchOptions): Promise<string> {
  const res = await get(url, opts);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > opts.maxBytes) {
        res.destroy();
        throw downloadError(url, `more than the ${opts.maxBytes} bytes allowed`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof SchoolgateError) throw err;
    throw downloadError(url, (err as Error).message, err);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Streams the body into `file` (owner-only); returns its size and its digest in `algorithm` (hex). */
export async function fetchToFile(
  url: string,
  file: string,
  algorithm: string,
  opts: FetchOptions,
): Promise<{ bytes: number; digest: string }> {
  const res = await get(url, opts);
  const hash = createHash(algorithm);
  let bytes = 0;
  try {
    await pipeline(
      res,
      limiter(url, opts.maxBytes, (c) => {
        hash.update(c);
        bytes += c.length;
      }),
      createWriteStream(file, { mode: PRIVATE_FILE_MODE }),
    );
  } catch (err) {
    if (err instanceof SchoolgateError) throw err;
    throw downloadError(url, (err as Error).message, err);
  }
  return { bytes, digest: hash.digest('hex') };
}
