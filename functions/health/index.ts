/** `health`: GET -> dependency health (cached 30 s), breaker states and the deployed version. */
import * as functions from '@google-cloud/functions-framework';
import { lazyHttp } from '../../shared/runtime/lazy';

const health = lazyHttp('health', () =>
  (require('./wiring') as typeof import('./wiring')).loadHealth(process.env),
);

functions.http('health', health.handler);

export const closeHealth = (): Promise<void> => health.close();
