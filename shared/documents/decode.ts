import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { unsupportedContent } from '../errors';

/**
 * Decodes document bytes as strict UTF-8. Invalid sequences and NUL bytes (the surest sign of binary
 * content) are a permanent 422: retrying cannot make them text.
 */
export function decodeText(bytes: Uint8Array): string {
  checkText(bytes);
  return decodeCheckedText(bytes);
}

/**
 * The checks of decodeText without building the text: NUL bytes, then strict UTF-8 validity (native, no
 * allocation). A document that passes decodes without error, whole or in slices.
 */
export function checkText(bytes: Uint8Array): void {
  if (bytes.includes(0)) {
    throw unsupportedContent('Document content is binary (contains NUL bytes); only UTF-8 text is supported');
  }
  if (!isUtf8(bytes)) throw unsupportedContent('Document content is not valid UTF-8 text');
}

const unchecked = new TextDecoder('utf-8', { ignoreBOM: false });

/** decodeText for bytes that have passed checkText: the same text, without checking them again. */
export function decodeCheckedText(bytes: Uint8Array): string {
  return unchecked.decode(bytes);
}

/** Bytes decoded per slice by decodeSlices: a few MiB of text held at a time. */
export const DECODE_SLICE_BYTES = 1 << 20;

/**
 * Decodes UTF-8 bytes slice by slice (a character cut by a slice boundary is completed by the next slice),
 * so a large document never exists as one string. The pieces join to exactly what decodeText returns; the
 * bytes must have passed checkText.
 */
export function* decodeSlices(bytes: Uint8Array, sliceBytes = DECODE_SLICE_BYTES): Generator<string, void> {
  const streaming = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  for (let i = 0; i < bytes.length; i += sliceBytes) {
    const last = i + sliceBytes >= bytes.length;
    yield streaming.decode(bytes.subarray(i, i + sliceBytes), { stream: !last });
  }
}

/** Content identity for the skip rule: the hash of the exact bytes. */
export function contentHash(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
