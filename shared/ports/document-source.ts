import type { DocumentRecord } from '../status/types';
import type { FetchOptions } from '../documents/types';

/** Reads the raw bytes a document record points at. One adapter per URL scheme. */
export interface DocumentSource {
  /** URL schemes this source serves, with the colon: `inline:`, `file:`, `https:`, `gs:`. */
  readonly schemes: readonly string[];
  fetch(record: DocumentRecord, options: FetchOptions): Promise<Uint8Array>;
}
