/**
 * Request bodies of allowed requests. Up to SMALL_BODY bytes are read before anything goes upstream, so a
 * body Node's parser refuses (bad chunk grammar, hostile-inputs B08) never opens an upstream connection and
 * ends as a single reject row. Larger bodies stream with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

const SMALL_BODY = 64 * 1024;

export interface Body {
  /** What to pipe upstream instead of the request itself; undefined when there is no body. */
  stream: Readable | undefined;
  /** Bytes already read. */
  bytes: number;
  /** True when the rest of the body still streams from the request (count it as it flows). */
  streaming: boolean;
  /** The whole body, when it was small enough to hold (a form the exchange reads). */
  content?: Buffer;
}

export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export function readBody(req: IncomingMessage, res: ServerResponse): Promise<Body | 'aborted'> {
  if (!hasBody(req)) return Promise.resolve({ stream: undefined, bytes: 0, streaming: false });
  // The server has a checkContinue listener, so Node does not send 100 Continue by itself: the policy
  // decided first, and only an allowed request is asked for its body.
  if (/100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes <= SMALL_BODY) return;
      // Too big to hold: replay what was read, then stream the rest.
      cleanup();
      req.pause();
      const pass = new PassThrough();
      for (const c of chunks) pass.write(c);
      req.pipe(pass);
      resolve({ stream: pass, bytes, streaming: true });
    };
    const onEnd = () => {
      cleanup();
      const content = Buffer.concat(chunks);
      const pass = new PassThrough();
      pass.end(content);
      resolve({ stream: pass, bytes, streaming: false, content });
    };
    const onClose = () => {
      cleanup();
      if (!req.complete) resolve('aborted');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
