import { createHash } from 'node:crypto';
import { unsupportedContent } from '../errors';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes document bytes as strict UTF-8. Invalid sequences and NUL bytes (the surest sign of binary
 * content) are a permanent 422: retrying cannot make them text.
 */
export function decodeText(bytes: Uint8Array): string {
  if (bytes.includes(0)) {
    throw unsupportedContent('Document content is binary (contains NUL bytes); only UTF-8 text is supported');
  }
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw unsupportedContent('Document content is not valid UTF-8 text', { cause: err });
  }
}

/** Content identity for the skip rule: the hash of the exact bytes. */
export function contentHash(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
