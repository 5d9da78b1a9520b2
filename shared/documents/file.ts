import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentTooLarge, notFound, sourceForbidden } from '../errors';
import type { DocumentSource } from './types';

/**
 * Local files (`file:///...`), for local mode only, confined to `root`: the real path (symlinks
 * resolved) must stay inside the real root, so `..` and links cannot escape it.
 */
export function makeFileSource(root: string): DocumentSource {
  let realRoot: Promise<string> | undefined;
  return {
    schemes: ['file:'],
    async fetch(record, { maxBytes, signal }) {
      let path: string;
      try {
        path = fileURLToPath(record.source);
      } catch (err) {
        throw sourceForbidden(`Invalid file URL for document ${record.id}`, { cause: err });
      }
      realRoot ??= realpath(root);
      const rootPath = await realRoot;
      let real: string;
      try {
        real = await realpath(path);
      } catch (err) {
        throw notFound(`File for document ${record.id} does not exist`, { cause: err });
      }
      const rel = relative(rootPath, real);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw sourceForbidden(`File for document ${record.id} is outside the configured file root`);
      }
      // Checked before open(): opening a FIFO would block until a writer appears, a directory cannot be read.
      const info = await stat(real);
      if (!info.isFile()) {
        throw sourceForbidden(`Source of document ${record.id} is not a regular file`);
      }
      const handle = await open(real, 'r');
      try {
        const { size } = await handle.stat();
        if (size > maxBytes) {
          throw contentTooLarge(`File for document ${record.id} is ${size} bytes; the limit is ${maxBytes}`);
        }
        const buffer = Buffer.allocUnsafe(size);
        let offset = 0;
        // Read by the stat size, never past it: a file growing underneath cannot exceed the limit.
        while (offset < size) {
          signal?.throwIfAborted();
          const { bytesRead } = await handle.read(buffer, offset, Math.min(size - offset, 1 << 20), offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
        }
        return buffer.subarray(0, offset);
      } finally {
        await handle.close();
      }
    },
  };
}
