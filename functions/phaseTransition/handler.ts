import { decodePhaseCompletionDelivery } from '../../shared/events/deliveries';
import type { PubSubCloudEvent } from '../../shared/events/types';
import type { PhaseTransition } from '../../shared/usecases';

/** Decodes the delivered CloudEvent at the edge; the use case sees a decoded delivery. */
export function makePhaseTransitionHandler(deps: {
  readonly phaseTransition: Pick<PhaseTransition, 'handleDelivery'>;
}) {
  return async (event: PubSubCloudEvent): Promise<void> =>
    void (await deps.phaseTransition.handleDelivery(decodePhaseCompletionDelivery(event)));
}
