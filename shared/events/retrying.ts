import type { Policy } from '../resilience';
import type { EventPublisher } from '../ports/event-publisher';

/**
 * Publishes under a bounded retry. Safe to repeat: every message carries its idempotency key, so a
 * consumer drops a copy that a retry after a lost acknowledgement may produce.
 */
export function withPublishRetries(publisher: EventPublisher, policy: Policy): EventPublisher {
  return {
    publish: (topic, data, options) => policy.execute(() => publisher.publish(topic, data, options)),
    close: () => publisher.close(),
  };
}
