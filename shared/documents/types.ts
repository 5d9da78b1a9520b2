import type { DocumentRecord } from '../status/types';

/** Document ids: what Firestore, Neo4j and a URL path can all carry without escaping surprises. */
export const DOCUMENT_ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._:@/-]{1,256}$/;

export interface FetchOptions {
  /** Content larger than this is refused (413) without being read whole. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

/** Reads the raw bytes a document record points at. One adapter per URL scheme. */
export interface DocumentSource {
  /** URL schemes this source serves, with the colon: `inline:`, `file:`, `https:`, `gs:`. */
  readonly schemes: readonly string[];
  fetch(record: DocumentRecord, options: FetchOptions): Promise<Uint8Array>;
}
