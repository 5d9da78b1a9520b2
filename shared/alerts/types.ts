/** The Alerter port. Sending an alert never throws into the caller and never blocks it for long. */

export type AlertSeverity = 'critical' | 'error' | 'warning';

export interface Alert {
  readonly severity: AlertSeverity;
  /** One line: what happened. */
  readonly title: string;
  readonly functionName: string;
  /** The error's class or code (`dependency_unavailable`, `TypeError`, ...). */
  readonly errorType: string;
  readonly message: string;
  readonly stack?: string;
  readonly documentId?: string;
  readonly batchId?: string;
  readonly correlationId?: string;
  /** Alerts with the same key within the dedup window are sent once (default: derived from the fields). */
  readonly dedupeKey?: string;
}
