import type { PublishOptions } from '../events/types';

export interface EventPublisher {
  /** Publishes JSON `data` to `topic`; resolves with the message id once the broker accepted it. */
  publish(topic: string, data: unknown, options: PublishOptions): Promise<string>;
  close(): Promise<void>;
}
