/** Chooses the alerter from configuration: Slack when a webhook is configured, else the log. */
import { LogAlerter } from '../alerts/log';
import { SlackAlerter, type SlackAlerterOptions } from '../adapters/slack/alerter';
import type { Logger } from '../logging';
import type { Alerter } from '../ports/alerter';

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
