/** Alerts: the alert itself, the log alerter and a recording one for tests (Slack: shared/adapters/slack). */

export type { Alert, AlertSeverity } from './types';
export type { Alerter } from '../ports/alerter';
export { LogAlerter, alertLogFields, type LogAlerterOptions } from './log';
export { RecordingAlerter } from './recording';
