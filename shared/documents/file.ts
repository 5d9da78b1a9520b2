import { closeSync, constants, fstatSync, openSync, read, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { contentTooLarge, notFound, sourceForbidden } from '../errors';
import type { DocumentSource } from './types';

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
      realRoot ??= realpathSync.native(root);
      let real: string;
      try {
        real = realpathSync.native(path);
      } catch (err) {
        throw notFound(`File for document ${record.id} does not exist`, { cause: err });
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
        if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
          throw sourceForbidden(`File for document ${record.id} changed into a link while being opened`);
        }
        throw err;
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
      } finally {
        closeSync(fd);
      }
    },
  };
}
