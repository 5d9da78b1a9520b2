/** `watchdog`: HTTP POST from Cloud Scheduler -> one alert per batch past its deadline. */
import * as functions from '@google-cloud/functions-framework';
import { lazyHttp } from '../../shared/runtime/lazy';

const watchdog = lazyHttp('watchdog', () =>
  (require('./wiring') as typeof import('./wiring')).loadWatchdog(process.env),
);
functions.http('watchdog', watchdog.handler);
export const closeWatchdog = (): Promise<void> => watchdog.close();
