/**
 * The package's main module.
 *
 * - On Cloud Run functions, the runtime sets FUNCTION_TARGET to the entry point being served; only that
 *   function's module is loaded, so each function's cold start pays for its own clients and nothing else.
 * - As a library, it exports the chunker and the pipeline types (`chunkText`, ...).
 */
export { chunkText, iterateChunks, type Chunk, type ChunkOptions } from '../shared/chunking';

/** Entry point name -> module that registers it with the functions framework. */
const ENTRYPOINTS: Readonly<Record<string, () => void>> = {
  orchestrate: () => void require('./orchestrate'),
  health: () => void require('./health'),
  ingestEvent: () => void require('./ingestEvent'),
  phaseTransition: () => void require('./phaseTransition'),
  replayDeadLetters: () => void require('./replayDeadLetters'),
  watchdog: () => void require('./watchdog'),
  reconcile: () => void require('./reconcile'),
};

const target = process.env['FUNCTION_TARGET'];
if (target !== undefined && target !== '') {
  const load = ENTRYPOINTS[target];
  if (!load) {
    throw new Error(
      `FUNCTION_TARGET=${target} is not a graphmill function (known: ${Object.keys(ENTRYPOINTS).join(', ')})`,
    );
  }
  load();
}
