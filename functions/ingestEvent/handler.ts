import { decodeIngestDelivery } from '../../shared/events/deliveries';
import type { PubSubCloudEvent } from '../../shared/events/types';
import type { Ingest } from '../../shared/usecases';

/** Decodes the delivered CloudEvent at the edge; the use case sees a decoded delivery. */
export function makeIngestEventHandler(deps: { readonly ingest: Pick<Ingest, 'handleDelivery'> }) {
  return (event: PubSubCloudEvent): Promise<void> => deps.ingest.handleDelivery(decodeIngestDelivery(event));
}
