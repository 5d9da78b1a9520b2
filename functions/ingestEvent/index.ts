/** `ingestEvent`: CloudEvent from Pub/Sub topic `ingest-requests` -> the same pipeline as orchestrate. */
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { PubSubCloudEvent } from '../../shared/events/types';
import { lazyEvent } from '../../shared/runtime/lazy';

const ingestEvent = lazyEvent('ingestEvent', () =>
  (require('./wiring') as typeof import('./wiring')).loadIngestEvent(process.env),
);

functions.cloudEvent('ingestEvent', (event: CloudEvent<unknown>) =>
  ingestEvent.handler(event as unknown as PubSubCloudEvent),
);

export const closeIngestEvent = (): Promise<void> => ingestEvent.close();
