/**
 * Poison documents. A retryable failure is retried (Pub/Sub redelivers, dead letters replay), which is
 * right for an outage and wrong for a document whose own write fails every time: a statement that takes the
 * server's memory, or the connection, down with it would be retried into a crash loop. A failure raised while
 * one of the document's write statements was running (`duringStatement`, set by the graph writer; an outage
 * that refuses the connection never gets that far) counts as a repeat when the previous attempt failed the
 * same way at the same stage; at the limit the document fails permanently, and its dead letter says why.
 */
import { repeatedFailure, withDetails, type GraphmillError } from '../errors';
import type { DocumentRecord, Stage } from '../status/types';

export const DEFAULT_MAX_SAME_WRITE_FAILURES = 3;

export function escalateRepeatedFailure(
  record: DocumentRecord,
  stage: Stage,
  e: GraphmillError,
  limit: number,
): GraphmillError {
  if (!e.retryable || e.details?.['duringStatement'] !== true) return e;
  const previous = record.error;
  // A document already failed as repeated_failure and tried again by hand fails again at the first repeat:
  // a replay of a poison document costs one more failure, not another `limit` of them.
  const same =
    previous?.repeats !== undefined &&
    previous.stage === stage &&
    (previous.code === e.code || previous.code === 'repeated_failure');
  const repeats = same ? previous.repeats + 1 : 1;
  if (repeats < limit) return withDetails(e, { repeats });
  return repeatedFailure(
    `Writing document ${record.id} failed the same way on ${repeats} attempts in a row, each time while ` +
      `its statement was running (${e.code}: ${e.message}); it is not retried again. If the Neo4j server ` +
      `ran out of memory or restarted, give it more memory or lower WRITE_BATCH_SIZE, then replay the ` +
      `dead letter or reprocess the document.`,
    { cause: e, details: { ...e.details, repeats, failedWith: e.code } },
  );
}
