import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

// A JSON request body read on plain node:http, by the rules express.json() applies (the ones
// clients of the allocator's REST API already rely on): only `Content-Type: application/json` is
// read (anything else, or no body at all, is `undefined`); a `utf-*` charset (UTF-8 if none), a
// leading BOM dropped; gzip, deflate or br bodies inflated; an empty body is `{}`; the top level
// must be an object or an array; and the limit counts the bytes after inflating, refused as soon
// as it is passed (a declared Content-Length over it before a byte is read).

export class JsonBodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: 'BAD_REQUEST' | 'TOO_LARGE',
    message: string,
  ) {
    super(message);
    this.name = 'JsonBodyError';
  }
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** The body parsed, or `undefined` when there is none or it is not JSON (it is then left unread); rejects with a JsonBodyError. */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const { 'content-type': contentType, 'content-length': declared, 'transfer-encoding': chunked } = req.headers;
  if ((declared === undefined && chunked === undefined) || contentType === undefined) return Promise.resolve(undefined);
  const semicolon = contentType.indexOf(';');
  if ((semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() !== 'application/json') return Promise.resolve(undefined);
  let decoder: TextDecoder | undefined;
  const charset = semicolon < 0 ? undefined : charsetOf(contentType.slice(semicolon + 1));
  if (charset !== undefined && charset !== 'utf-8') {
    try {
      if (!charset.startsWith('utf-')) throw new RangeError(charset);
      decoder = new TextDecoder(charset);
    } catch {
      return Promise.reject(new JsonBodyError(415, 'BAD_REQUEST', `unsupported charset "${charset.toUpperCase()}"`));
    }
  }
  const encoding = req.headers['content-encoding']?.toLowerCase() ?? 'identity';
  let inflate: Transform | undefined;
  if (encoding !== 'identity') {
    inflate = encoding === 'gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
    if (!inflate) return Promise.reject(new JsonBodyError(415, 'BAD_REQUEST', `unsupported content encoding "${encoding}"`));
    req.pipe(inflate);
  } else if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(tooLarge(limitBytes));
  }

  const body: Readable = inflate ?? req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const fail = (err: JsonBodyError) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      if (inflate) {
        req.unpipe(inflate);
        inflate.destroy();
        req.resume();
      }
      // What is left of the body still arrives and is dropped, so the connection stays usable.
      reject(err);
    };
    body.on('data', (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > limitBytes) return fail(tooLarge(limitBytes));
      chunks.push(chunk);
    });
    body.on('error', (err: Error) => fail(new JsonBodyError(400, 'BAD_REQUEST', `the body could not be read: ${err.message}`)));
    req.on('close', () => {
      if (!req.complete) fail(new JsonBodyError(400, 'BAD_REQUEST', 'request aborted'));
    });
    body.on('end', () => {
      if (settled) return;
      settled = true;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      const text = decoder ? decoder.decode(bytes) : bytes.toString('utf8', hasUtf8Bom(bytes) ? UTF8_BOM.length : 0);
      if (text.length === 0) return resolve({});
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject(new JsonBodyError(400, 'BAD_REQUEST', `the body is not JSON: ${(err as Error).message}`));
      }
      if (typeof value !== 'object' || value === null) return reject(new JsonBodyError(400, 'BAD_REQUEST', `the body must be a JSON object or array, not ${value === null ? 'null' : typeof value}`));
      resolve(value);
    });
  });
}

function tooLarge(limitBytes: number): JsonBodyError {
  return new JsonBodyError(413, 'TOO_LARGE', `the body is larger than ${limitBytes} bytes`);
}

/** The `charset` parameter of a Content-Type's parameters (after the first `;`), lower case. */
function charsetOf(parameters: string): string | undefined {
  for (const parameter of parameters.split(';')) {
    const eq = parameter.indexOf('=');
    if (eq < 0 || parameter.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return parameter
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return undefined;
}

function hasUtf8Bom(bytes: Buffer): boolean {
  return bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2];
}
