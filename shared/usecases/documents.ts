/** Registering documents and reading their status (the CLI's register, ingest and status). */
import type { Logger } from '../logging';
import type { Clock } from '../ports/clock';
import type { GraphWriter } from '../ports/graph-writer';
import type { StatusStore } from '../ports/status-store';
import { registerAll } from '../status/batch';
import type { DocumentRecord, NewDocument } from '../status/types';

export interface DocumentsDeps {
  readonly status: StatusStore;
  readonly graph: GraphWriter;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface Documents {
  register(docs: readonly NewDocument[]): Promise<DocumentRecord[]>;
  get(id: string): Promise<DocumentRecord | undefined>;
  list(filter?: Parameters<StatusStore['list']>[0]): Promise<DocumentRecord[]>;
  /** Starts the graph's one-off schema check early, so that it overlaps other work. */
  prepareGraph(): Promise<void>;
}

export function makeDocuments(deps: DocumentsDeps): Documents {
  return {
    register: (docs) => registerAll(deps.status, docs, deps.clock()),
    get: (id) => deps.status.get(id),
    list: (filter) => deps.status.list(filter),
    prepareGraph: () => deps.graph.ensureSchema(),
  };
}
