/** Ids of remote sources: a query string only as a hash, the source whole for the fetcher. */
import { createHash } from 'node:crypto';
import { remoteDocument } from '../../../cli/files';
import { DOCUMENT_ID_PATTERN } from '../../../shared/documents/types';

const SIGNED =
  'https://storage.googleapis.com/acme/reports/q3.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256' +
  '&X-Goog-Credential=signer%40acme.iam.gserviceaccount.com%2F20250101%2Fauto%2Fstorage%2Fgoog4_request' +
  '&X-Goog-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a0';

it('keeps a signed URL query out of the id, as the first 16 hex characters of its SHA-256', () => {
  const doc = remoteDocument(SIGNED);
  const query = new URL(SIGNED).search.slice(1);
  const hash = createHash('sha256').update(query).digest('hex').slice(0, 16);
  expect(doc).toEqual({
    id: `storage.googleapis.com/acme/reports/q3.txt_q_${hash}`,
    source: SIGNED,
    title: 'q3.txt',
  });
  expect(doc.id).toMatch(DOCUMENT_ID_PATTERN);
  expect(doc.id).not.toContain('9f8e7d6c5b4a');
  expect(doc.id).not.toContain('signer');
});

it('gives the same URL the same id, and URLs differing only in their query different ids', () => {
  expect(remoteDocument(SIGNED).id).toBe(remoteDocument(SIGNED).id);
  expect(remoteDocument(`${SIGNED}0`).id).not.toBe(remoteDocument(SIGNED).id);
  expect(remoteDocument('https://docs.example.test/a.md').id).toBe('docs.example.test/a.md');
});

it('keeps the hash whole when a long path is cut to the id limit', () => {
  const long = `https://docs.example.test/${'d/'.repeat(200)}x.md?sig=abcdef`;
  const id = remoteDocument(long).id;
  expect(id).toHaveLength(256);
  expect(id).toMatch(/_q_[0-9a-f]{16}$/);
  expect(id).toMatch(DOCUMENT_ID_PATTERN);
});
