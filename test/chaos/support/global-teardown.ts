/** Global teardown of the chaos suite: merges the suites' figures into results/latest.json, then stops
 * Neo4j if the setup started it. */
import integrationTeardown from '../../support/global-teardown';
import { finishResults } from './results';

export default async function globalTeardown(): Promise<void> {
  finishResults();
  await integrationTeardown();
}
