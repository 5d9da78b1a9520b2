/**
 * The local default Alerter: an alert becomes one log entry at the matching severity. On GCP the same
 * entry is what a log-based alerting policy would match (`jsonPayload.message="alert"`).
 */
import type { LogFields, Logger } from '../logging';
import { secretRegistry, type SecretRegistry } from '../secrets/redaction';
import type { Alert } from './types';
import type { Alerter } from '../ports/alerter';

/**
 * The alert as log fields. `message` and `severity` are renamed (`errorMessage`, `alertSeverity`): the
 * logger owns those keys. Known secret values are masked.
 */
export function alertLogFields(alert: Alert, registry: SecretRegistry = secretRegistry): LogFields {
  const fields: Record<string, unknown> = {
    alertSeverity: alert.severity,
    title: alert.title,
    functionName: alert.functionName,
    errorType: alert.errorType,
    errorMessage: alert.message,
  };
  for (const key of ['stack', 'documentId', 'batchId', 'correlationId', 'dedupeKey'] as const) {
    const value = alert[key];
    if (value !== undefined) fields[key] = value;
  }
  return registry.redactFields(fields);
}

export interface LogAlerterOptions {
  readonly logger: Logger;
  readonly registry?: SecretRegistry;
}

export class LogAlerter implements Alerter {
  constructor(private readonly options: LogAlerterOptions) {}

  send(alert: Alert): Promise<void> {
    try {
      const { logger } = this.options;
      const fields = alertLogFields(alert, this.options.registry);
      if (alert.severity === 'critical') logger.critical('alert', fields);
      else if (alert.severity === 'warning') logger.warn('alert', fields);
      else logger.error('alert', fields);
    } catch {
      // An alerter never throws into the caller; a failing logger has nowhere better to report to.
    }
    return Promise.resolve();
  }

  /** Nothing is ever in flight. */
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
