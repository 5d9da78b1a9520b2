/** `reconcile`: HTTP POST from Cloud Scheduler -> repair completions missing from Firestore or BigQuery. */
import * as functions from '@google-cloud/functions-framework';
import { lazyHttp } from '../../shared/runtime/lazy';

const reconcile = lazyHttp('reconcile', () =>
  (require('./wiring') as typeof import('./wiring')).loadReconcile(process.env),
);
functions.http('reconcile', reconcile.handler);
export const closeReconcile = (): Promise<void> => reconcile.close();
