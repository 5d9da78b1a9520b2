/**
 * `phaseTransition`: CloudEvent from Pub/Sub topic `phase-completions`. Records the unit's completion
 * and, when every unit of the batch has finished the phase, triggers the next phase exactly once.
 */
import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { PubSubCloudEvent } from '../../shared/events/types';
import { lazyEvent } from '../../shared/runtime/lazy';

type PubSubData = NonNullable<PubSubCloudEvent['data']>;

const phaseTransition = lazyEvent('phaseTransition', () =>
  (require('./wiring') as typeof import('./wiring')).loadPhaseTransition(process.env),
);

// Typed with the Pub/Sub message data, so the delivered event is a PubSubCloudEvent without a cast.
functions.cloudEvent('phaseTransition', (event: CloudEvent<PubSubData>) => phaseTransition.handler(event));

export const closePhaseTransition = (): Promise<void> => phaseTransition.close();
