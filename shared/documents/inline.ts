import { contentTooLarge, unsupportedContent } from '../errors';
import type { DocumentSource } from '../ports/document-source';

/** Content stored on the record itself (`source: "inline:"`). */
export const inlineSource: DocumentSource = {
  schemes: ['inline:'],
  fetch(record, { maxBytes }) {
    if (record.content === undefined) {
      return Promise.reject(unsupportedContent(`Document ${record.id} has an inline source but no content`));
    }
    const bytes = Buffer.from(record.content, 'utf8');
    if (bytes.byteLength > maxBytes) {
      return Promise.reject(
        contentTooLarge(`Document ${record.id} is ${bytes.byteLength} bytes; the limit is ${maxBytes}`),
      );
    }
    return Promise.resolve(bytes);
  },
};
