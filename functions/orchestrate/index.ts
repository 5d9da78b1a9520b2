/**
 * `orchestrate`: HTTP POST {"document_id": "...", "action": "process_document"}.
 * Registration only: configuration, adapters and the Neo4j driver are built on the first request.
 */
import * as functions from '@google-cloud/functions-framework';
import { parseConfig } from '../../shared/config';
import { installBodyErrorProblems } from '../../shared/http/body-errors';
import { makeLogger } from '../../shared/logging';
import { buildRuntime, type Runtime } from '../../shared/runtime/local';
import { makeOrchestrateHandler, type OrchestrateRuntime } from './handler';

const FUNCTION_NAME = 'orchestrate';
let runtime: Promise<OrchestrateRuntime & { close(): Promise<void> }> | undefined;

function getRuntime(): Promise<OrchestrateRuntime & { close(): Promise<void> }> {
  runtime ??= Promise.resolve().then(() => {
    const config = parseConfig(process.env);
    const logger = makeLogger({ ...config.log, base: { function: FUNCTION_NAME } });
    const built: Runtime = buildRuntime(config, logger);
    process.once('SIGTERM', () => {
      void built.close();
    });
    return {
      pipeline: built.pipeline,
      logger,
      maxRequestBytes: config.maxRequestBytes,
      close: () => built.close(),
    };
  });
  runtime.catch(() => {
    runtime = undefined; // a configuration error is reported on every request until fixed
  });
  return runtime;
}

installBodyErrorProblems();
functions.http(
  FUNCTION_NAME,
  makeOrchestrateHandler({
    runtime: getRuntime,
    fallbackLogger: makeLogger({
      level: 'info',
      format: process.env['K_SERVICE'] ? 'json' : 'pretty',
      base: { function: FUNCTION_NAME },
    }),
  }),
);

/** For the CLI's `serve` and tests: closes the driver and the state database. */
export async function closeOrchestrate(): Promise<void> {
  const r = runtime;
  runtime = undefined;
  if (r) await (await r).close();
}
