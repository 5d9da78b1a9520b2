import { closeSync, constants, fstatSync, openSync, read, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { contentTooLarge, dependencyUnavailable, notFound, sourceForbidden } from '../../errors';
import type { DocumentSource } from '../../ports/document-source';

const readAsync = promisify(read);

/**
 * Files up to this size are read with synchronous calls. A local file's metadata calls and a small read
 * take microseconds; each asynchronous call costs a thread-pool round trip, ~10x the CPU for the typical
 * 10 KB document (measured in docs/performance.md). Larger files are read asynchronously, 1 MiB at a time,
 * so a big file never blocks the event loop for long and an abort signal is honoured between reads.
 */
export const SYNC_READ_LIMIT = 4 << 20;
const READ_SLICE = 1 << 20;

/**
 * Local files (`file:///...`), for local mode only, confined to `root`: the real path (symlinks
 * resolved) must stay inside the real root, so `..` and links cannot escape it.
 */
export function makeFileSource(root: string): DocumentSource {
  let realRoot: string | undefined;
  return {
    schemes: ['file:'],
    async fetch(record, { maxBytes, signal }) {
      let path: string;
      try {
        path = fileURLToPath(record.source);
      } catch (err) {
        throw sourceForbidden(`Invalid file URL for document ${record.id}`, { cause: err });
      }
      // A NUL byte (`%00`) is no path at all: the fs calls would throw a TypeError, not an errno.
      if (path.includes('\0')) throw sourceForbidden(`Invalid file URL for document ${record.id}`);
      realRoot ??= realpathSync.native(root);
      let real: string;
      try {
        real = realpathSync.native(path);
      } catch (err) {
        throw fileError(err, record.id, 'resolving');
      }
      const rel = relative(realRoot, real);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw sourceForbidden(`File for document ${record.id} is outside the configured file root`);
      }
      // O_NONBLOCK: opening a FIFO must not wait for a writer to appear. O_NOFOLLOW: a link swapped in for
      // the checked file after realpath is refused, not followed. Anything but a regular file (FIFO,
      // directory, device) is then refused before a byte is read.
      let fd: number;
      try {
        fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) === 'ELOOP') {
          throw sourceForbidden(`File for document ${record.id} changed into a link while being opened`, {
            cause: err,
            details: { errno: 'ELOOP' },
          });
        }
        throw fileError(err, record.id, 'opening');
      }
      try {
        const info = fstatSync(fd);
        if (!info.isFile()) {
          throw sourceForbidden(`Source of document ${record.id} is not a regular file`);
        }
        const size = info.size;
        if (size > maxBytes) {
          throw contentTooLarge(`File for document ${record.id} is ${size} bytes; the limit is ${maxBytes}`);
        }
        const buffer = Buffer.allocUnsafe(size);
        let offset = 0;
        // Read by the stat size, never past it: a file growing underneath cannot exceed the limit.
        while (offset < size) {
          signal?.throwIfAborted();
          const length = Math.min(size - offset, READ_SLICE);
          const bytesRead =
            size <= SYNC_READ_LIMIT
              ? readSync(fd, buffer, offset, length, offset)
              : (await readAsync(fd, buffer, offset, length, offset)).bytesRead;
          if (bytesRead === 0) break;
          offset += bytesRead;
        }
        return buffer.subarray(0, offset);
      } catch (err) {
        throw fileError(err, record.id, 'reading');
      } finally {
        closeSync(fd);
      }
    },
  };
}

const errnoOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
};

/** Named by the path, not the file: it does not exist (or cannot, its name being too long). */
const MISSING: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG']);
/** The file may not be read by this process. */
const DENIED: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'ELOOP']);
/** Not a regular file: a Unix socket (ENXIO), a directory, a device without a driver, ... */
const NOT_REGULAR: ReadonlySet<string> = new Set(['ENXIO', 'EISDIR', 'ENODEV', 'EOPNOTSUPP', 'ENOTSUP']);
/**
 * The machine's fault, not the file's: out of descriptors or memory, an interrupted or would-block call,
 * a busy or stale handle, an I/O error of the device (a network or FUSE file system heals; a bad disk
 * does not, and the bounded retries end it as `failed`).
 */
const TRANSIENT: ReadonlySet<string> = new Set([
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'EAGAIN',
  'EWOULDBLOCK',
  'EINTR',
  'EBUSY',
  'EIO',
  'ESTALE',
  'ETIMEDOUT',
]);

/**
 * A file system error as the pipeline's error: nothing the file system says about one document is a bug
 * of graphmill (a 500). An error without an errno (a GraphmillError, an abort) passes through as it is.
 */
function fileError(err: unknown, id: string, doing: 'resolving' | 'opening' | 'reading'): unknown {
  const errno = errnoOf(err);
  if (errno === undefined) return err;
  const extra = { cause: err, details: { errno } };
  if (MISSING.has(errno)) return notFound(`File for document ${id} does not exist (${errno})`, extra);
  if (DENIED.has(errno)) {
    return sourceForbidden(`File for document ${id} may not be read (${errno} while ${doing})`, extra);
  }
  if (NOT_REGULAR.has(errno)) {
    return sourceForbidden(`Source of document ${id} is not a regular file (${errno})`, extra);
  }
  if (TRANSIENT.has(errno)) {
    return dependencyUnavailable(
      `File for document ${id} could not be read now (${errno} while ${doing})`,
      extra,
    );
  }
  // Any other errno belongs to this file and this call: permanent, and said as it is.
  return sourceForbidden(`File for document ${id} cannot be read (${errno} while ${doing})`, extra);
}
