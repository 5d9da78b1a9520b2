/** Document ids: what Firestore, Neo4j and a URL path can all carry without escaping surprises. */
export const DOCUMENT_ID_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._:@/-]{1,256}$/;

export interface FetchOptions {
  /** Content larger than this is refused (413) without being read whole. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}
