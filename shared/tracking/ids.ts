import { createHash } from 'node:crypto';

/**
 * The id of a completion: the same document finishing the same phase of the same batch with the same
 * outcome and content (or, for failures, the same attempt) is the same completion, however often the
 * event announcing it is delivered.
 */
export function completionIdFor(parts: {
  readonly documentId: string;
  readonly phase: string;
  readonly batchId?: string | undefined;
  readonly status: string;
  /** contentHash for successes, the attempt number for failures. */
  readonly discriminator: string;
}): string {
  return createHash('sha256')
    .update(
      [parts.batchId ?? '', parts.documentId, parts.phase, parts.status, parts.discriminator].join('\u0000'),
    )
    .digest('hex')
    .slice(0, 32);
}
