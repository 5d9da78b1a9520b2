/** An Alerter for tests: keeps every alert it is sent, in order. */
import type { Alert } from './types';
import type { Alerter } from '../ports/alerter';

export class RecordingAlerter implements Alerter {
  readonly alerts: Alert[] = [];

  send(alert: Alert): Promise<void> {
    this.alerts.push({ ...alert });
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  clear(): void {
    this.alerts.length = 0;
  }
}
