/**
 * `orchestrate`: HTTP POST {"document_id": "...", "action": "process_document"}.
 * Registration only; configuration, adapters and the Neo4j driver are built on the first request.
 */
import * as functions from '@google-cloud/functions-framework';
import { lazyHttp } from '../../shared/runtime/lazy';

const orchestrate = lazyHttp('orchestrate', () =>
  (require('./wiring') as typeof import('./wiring')).loadOrchestrate(process.env),
);

functions.http('orchestrate', orchestrate.handler);

/** For the CLI's `serve` and tests: closes the driver and the state database. */
export const closeOrchestrate = (): Promise<void> => orchestrate.close();
