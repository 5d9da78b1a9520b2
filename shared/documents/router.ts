import { unsupportedContent } from '../errors';
import type { DocumentRecord } from '../status/types';
import type { FetchOptions } from './types';
import type { DocumentSource } from '../ports/document-source';

/** Picks the source for a record by its URL scheme. A scheme nobody serves is a permanent error. */
export function makeSourceRouter(sources: readonly DocumentSource[]): DocumentSource {
  const byScheme = new Map<string, DocumentSource>();
  for (const s of sources) for (const scheme of s.schemes) byScheme.set(scheme, s);
  return {
    schemes: [...byScheme.keys()],
    fetch(record: DocumentRecord, options: FetchOptions) {
      const scheme = schemeOf(record.source);
      const source = byScheme.get(scheme);
      if (!source) {
        return Promise.reject(
          unsupportedContent(
            `Source scheme "${scheme}" of document ${record.id} is not enabled here (enabled: ${[...byScheme.keys()].join(', ')})`,
          ),
        );
      }
      return source.fetch(record, options);
    },
  };
}

export function schemeOf(source: string): string {
  const i = source.indexOf(':');
  return i > 0 ? source.slice(0, i + 1).toLowerCase() : '';
}
