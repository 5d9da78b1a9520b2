/**
 * The functions framework parses request bodies with body-parser before our handler runs, and a
 * malformed JSON body ends in Express's default HTML error page. The contract says every error is
 * problem+json, so this wraps Express's app: body-parser errors (they carry a `type` like
 * `entity.parse.failed` and a 4xx `status`) become problem+json; everything else is left to Express's
 * own handler. Installed once by the HTTP entrypoints, before the framework builds its app.
 *
 * The same hook refuses what the parsers would make expensive. Their limit is the framework's 1 GB, for
 * every content type, and the handler only sees a body once it is read whole:
 * - body-parser inflates gzip/deflate/br bodies before the handler can check MAX_REQUEST_BYTES (a 64 KiB
 *   gzip body held 64 MiB), so a Content-Encoding other than identity is 415, before a byte is read;
 * - a declared Content-Length above MAX_REQUEST_BYTES is 413, before a byte is read;
 * - a body without a declared length (chunked) is counted as the HTTP parser hands it over, and the
 *   request is answered 413 as soon as it passes MAX_REQUEST_BYTES: a 300 MB chunked upload was read whole
 *   first (7.7 s, the server's RSS from 98 MB to 1.74 GB).
 * A refused request's connection is closed once the answer is written: the client may have hundreds of
 * megabytes in flight, and reading them only to discard them is the cost being refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, contentTooLarge, unsupportedMediaType, type GraphmillError } from '../errors';
import { requestBytesLimit } from './limits';
import { sendProblem } from './problem';
import { requestIdFrom } from './request';

interface BodyParserError {
  readonly type: string;
  readonly status?: number;
  readonly message?: string;
}

type Done = (err?: unknown) => void;
interface ExpressAppProto {
  handle: (this: ExpressApp, req: IncomingMessage, res: ServerResponse, callback?: Done) => void;
}
interface ExpressApp {
  get(setting: string): unknown;
}

const BODY_ERROR_TYPES = new Set([
  'entity.parse.failed',
  'entity.too.large',
  'encoding.unsupported',
  'charset.unsupported',
  'request.size.invalid',
  'entity.verify.failed',
]);

export function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as BodyParserError).type === 'string' &&
    BODY_ERROR_TYPES.has((err as BodyParserError).type)
  );
}

/**
 * Any 4xx error that reaches Express's final handler came from the middleware before the function
 * (body-parser and the decompression it does): the request was at fault, whatever the error's shape.
 */
function statusOf(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown };
  return e.status ?? e.statusCode;
}

export function isRequestError(err: unknown): err is { status?: number; statusCode?: number; type?: string } {
  if (isBodyParserError(err)) return true;
  const status = statusOf(err);
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function bodyErrorToGraphmillError(err: {
  status?: number;
  statusCode?: number;
  type?: string;
}): GraphmillError {
  if (err.type === undefined) {
    const status = statusOf(err);
    if (status === 413) return contentTooLarge('Request body is too large');
    if (status === 415) return unsupportedMediaType('Request body encoding is not supported');
    return badRequest('Request body could not be read (corrupt or mis-declared content encoding?)');
  }
  switch (err.type) {
    case 'entity.too.large':
      return contentTooLarge('Request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return unsupportedMediaType('Request body encoding or charset is not supported; send UTF-8 JSON');
    default:
      return badRequest('Request body is not valid JSON');
  }
}

/** The refusal for a request whose body must not be read at all, or undefined. */
export function requestBodyRefusal(
  headers: IncomingMessage['headers'],
  limit: number = requestBytesLimit(),
): GraphmillError | undefined {
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return unsupportedMediaType(
      `Compressed request bodies are not accepted (Content-Encoding: ${encoding.slice(0, 40)}); send the JSON uncompressed`,
    );
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return contentTooLarge(`Request body of ${declared} bytes is over the ${limit}-byte limit`);
  }
  return undefined;
}

const streamedTooLarge = (limit: number): GraphmillError =>
  contentTooLarge(`Request body is over the ${limit}-byte limit`);

/**
 * Counts the body as the HTTP parser pushes it into `req` and calls `onOver` once, when it passes
 * `limit`; from then on nothing more is pushed, and refusing the push makes the parser stop reading the
 * socket. So whatever reads the body (every body-parser, whatever the content type) holds at most
 * `limit` bytes of it.
 */
export function limitRequestBody(req: IncomingMessage, limit: number, onOver: () => void): void {
  let received = req.readableLength;
  let over = false;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) return over ? false : push(chunk, encoding);
    if (over) return false;
    received += (chunk as { length: number }).length;
    if (received > limit) {
      over = true;
      onOver();
      return false;
    }
    return push(chunk, encoding);
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, err: GraphmillError): void {
  if (res.headersSent) return;
  res.setHeader('Connection', 'close');
  sendProblem(res, err, req.url ?? '/', requestIdFrom(req.headers));
}

let installed = false;

/** Idempotent. `frameworkDir` resolves the Express copy the functions framework itself uses. */
export function installBodyErrorProblems(): void {
  if (installed) return;
  installed = true;
  const fromFramework = { paths: [require.resolve('@google-cloud/functions-framework')] };
  const express = require(require.resolve('express', fromFramework)) as { application: ExpressAppProto };
  const finalhandler = require(
    require.resolve('finalhandler', { paths: [require.resolve('express', fromFramework)] }),
  ) as (req: IncomingMessage, res: ServerResponse, options: { env: unknown }) => Done;
  const proto = express.application;
  const original = proto.handle;
  proto.handle = function handle(this: ExpressApp, req, res, callback) {
    if (callback) {
      original.call(this, req, res, callback);
      return;
    }
    const limit = requestBytesLimit();
    const refusal = requestBodyRefusal(req.headers, limit);
    if (refusal) {
      refuse(req, res, refusal);
      return;
    }
    limitRequestBody(req, limit, () => refuse(req, res, streamedTooLarge(limit)));
    const fallback = finalhandler(req, res, { env: this.get('env') });
    original.call(this, req, res, (err?: unknown) => {
      if (err !== undefined && isRequestError(err) && !res.headersSent) {
        sendProblem(res, bodyErrorToGraphmillError(err), req.url ?? '/', requestIdFrom(req.headers));
        return;
      }
      fallback(err);
    });
  };
}
