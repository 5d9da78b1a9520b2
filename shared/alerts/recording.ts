/** An Alerter for tests: keeps every alert it is sent, in order. */
import type { Alert, Alerter } from './types';

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
