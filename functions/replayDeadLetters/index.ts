/** `replayDeadLetters`: HTTP POST from Cloud Scheduler -> re-drive the dead letters that are due. */
import * as functions from '@google-cloud/functions-framework';
import { lazyHttp } from '../../shared/runtime/lazy';

const replay = lazyHttp('replayDeadLetters', () =>
  (require('./wiring') as typeof import('./wiring')).loadReplayDeadLetters(process.env),
);
functions.http('replayDeadLetters', replay.handler);
export const closeReplayDeadLetters = (): Promise<void> => replay.close();
