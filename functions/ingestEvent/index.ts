/** `ingestEvent`: CloudEvent from Pub/Sub topic `ingest-requests` -> the same pipeline as orchestrate. */
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { PubSubCloudEvent } from '../../shared/events/types';
import { lazyEvent } from '../../shared/runtime/lazy';

type PubSubData = NonNullable<PubSubCloudEvent['data']>;

const ingestEvent = lazyEvent('ingestEvent', () =>
  (require('./wiring') as typeof import('./wiring')).loadIngestEvent(process.env),
);

// Typed with the Pub/Sub message data, so the delivered event is a PubSubCloudEvent without a cast.
functions.cloudEvent('ingestEvent', (event: CloudEvent<PubSubData>) => ingestEvent.handler(event));

export const closeIngestEvent = (): Promise<void> => ingestEvent.close();
