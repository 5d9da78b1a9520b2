import type { Alert } from '../alerts/types';

export interface Alerter {
  /** Resolves when the alert was handed off (or dropped); never rejects. */
  send(alert: Alert): Promise<void>;
}
