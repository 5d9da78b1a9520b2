/**
 * Alerts: the port, its adapters, and the one choice the wiring makes: Slack when a webhook is
 * configured, else the log.
 */
import type { Logger } from '../logging';
import { LogAlerter } from './log';
import { SlackAlerter, type SlackAlerterOptions } from './slack';
import type { Alerter } from './types';

export type { Alert, AlertSeverity, Alerter } from './types';
export { LogAlerter, alertLogFields, type LogAlerterOptions } from './log';
export { RecordingAlerter } from './recording';
export {
  SlackAlerter,
  SlackWebhookError,
  buildSlackMessage,
  checkWebhookUrl,
  dedupeKeyOf,
  isRetryableSlackError,
  type SlackAlerterOptions,
  type SlackBlock,
  type SlackMessage,
  type SlackMessageOptions,
} from './slack';

/** An Alerter the composition root can drain on shutdown. */
export interface ManagedAlerter extends Alerter {
  /** Resolves when no delivery is in flight (bounded by the adapter's own timeouts). */
  flush(): Promise<void>;
}

export type MakeAlerterOptions = Omit<SlackAlerterOptions, 'webhookUrl' | 'logger'> & {
  /** Reads the Slack webhook URL; absent means "no webhook configured": alerts go to the log. */
  readonly webhookUrl?: (() => Promise<string>) | undefined;
  readonly logger: Logger;
};

export function makeAlerter(options: MakeAlerterOptions): ManagedAlerter {
  const { webhookUrl, ...rest } = options;
  if (webhookUrl === undefined) {
    return new LogAlerter({
      logger: options.logger,
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
  }
  return new SlackAlerter({ ...rest, webhookUrl });
}
