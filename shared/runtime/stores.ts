/**
 * State adapters, one factory per port (status, batches, dead letters, the two completion ledgers), over
 * shared backends opened once: a lazy Firestore client and the SQLite state database. GCP and SQLite
 * modules are required inside the branches that use them, so a run never loads what it does not use.
 */
import { join } from 'node:path';
import type { Clock } from '../ports/clock';
import type { DatabaseSync } from 'node:sqlite';
import { InMemoryBatchStore } from '../adapters/memory/batch-store';
import { InMemoryCompletionLedger } from '../adapters/memory/completion-ledger';
import { InMemoryDeadLetterStore } from '../adapters/memory/dead-letter-store';
import { InMemoryStatusStore } from '../adapters/memory/status-store';
import type { Config } from '../config';
import type { BatchStore } from '../ports/batch-store';
import type { CompletionLedger } from '../ports/completion-ledger';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { StatusStore } from '../ports/status-store';

type Closer = () => Promise<void>;

/** The backends several stores share, opened on first use; each registers its close. */
export interface Backends {
  firestore(): import('../adapters/firestore/client').LazyFirestore;
  sqlite(): { db: typeof import('../adapters/sqlite/database'); state: DatabaseSync };
}

export function makeBackends(config: Config, closers: Closer[]): Backends {
  let firestoreClient: import('../adapters/firestore/client').LazyFirestore | undefined;
  let sqliteState: ReturnType<Backends['sqlite']> | undefined;
  return {
    firestore() {
      if (!firestoreClient) {
        const { lazyFirestore } =
          require('../adapters/firestore/client') as typeof import('../adapters/firestore/client');
        firestoreClient = lazyFirestore(config.projectId ? { projectId: config.projectId } : {});
        closers.push(firestoreClient.close);
      }
      return firestoreClient;
    },
    sqlite() {
      if (!sqliteState) {
        const db = require('../adapters/sqlite/database') as typeof import('../adapters/sqlite/database');
        const state = db.openStateDatabase(config.stateDir);
        closers.push(() => Promise.resolve(state.close()));
        sqliteState = { db, state };
      }
      return sqliteState;
    },
  };
}

export function makeStatusStore(config: Config, backends: Backends): StatusStore {
  switch (config.adapters.statusStore) {
    case 'firestore': {
      const { FirestoreStatusStore } =
        require('../adapters/firestore/status-store') as typeof import('../adapters/firestore/status-store');
      return new FirestoreStatusStore(backends.firestore().get);
    }
    case 'sqlite': {
      const { SqliteStatusStore } =
        require('../adapters/sqlite/status-store') as typeof import('../adapters/sqlite/status-store');
      return new SqliteStatusStore(backends.sqlite().state);
    }
    case 'memory':
      return new InMemoryStatusStore();
  }
}

export function makeBatchStore(config: Config, backends: Backends): BatchStore {
  switch (config.adapters.statusStore) {
    case 'firestore': {
      const { FirestoreBatchStore } =
        require('../adapters/firestore/batch-store') as typeof import('../adapters/firestore/batch-store');
      return new FirestoreBatchStore(backends.firestore().get);
    }
    case 'sqlite': {
      const { SqliteBatchStore } =
        require('../adapters/sqlite/batch-store') as typeof import('../adapters/sqlite/batch-store');
      return new SqliteBatchStore(backends.sqlite().state);
    }
    case 'memory':
      return new InMemoryBatchStore();
  }
}

export function makeDeadLetterStore(config: Config, backends: Backends): DeadLetterStore {
  switch (config.adapters.statusStore) {
    case 'firestore': {
      const { FirestoreDeadLetterStore } =
        require('../adapters/firestore/dead-letter-store') as typeof import('../adapters/firestore/dead-letter-store');
      return new FirestoreDeadLetterStore(backends.firestore().get);
    }
    case 'sqlite': {
      const { SqliteDeadLetterStore } =
        require('../adapters/sqlite/dead-letter-store') as typeof import('../adapters/sqlite/dead-letter-store');
      return new SqliteDeadLetterStore(backends.sqlite().state);
    }
    case 'memory':
      return new InMemoryDeadLetterStore();
  }
}

export interface Ledgers {
  /** The orchestration ledger (Firestore in GCP). */
  readonly firestore: CompletionLedger;
  /** The analytics ledger (BigQuery in GCP). */
  readonly bigquery: CompletionLedger;
}

export function makeLedgers(config: Config, backends: Backends, closers: Closer[], clock: Clock): Ledgers {
  switch (config.adapters.completionLedgers) {
    case 'gcp': {
      const { FirestoreCompletionLedger } =
        require('../adapters/firestore/completion-ledger') as typeof import('../adapters/firestore/completion-ledger');
      const { BigQueryCompletionLedger } =
        require('../adapters/bigquery/completion-ledger') as typeof import('../adapters/bigquery/completion-ledger');
      return {
        firestore: new FirestoreCompletionLedger(backends.firestore().get),
        bigquery: new BigQueryCompletionLedger({
          ...(config.projectId ? { projectId: config.projectId } : {}),
          dataset: config.bigquery.dataset,
          ...(config.bigquery.location ? { location: config.bigquery.location } : {}),
          clock,
        }),
      };
    }
    case 'sqlite': {
      // Two databases keep the two records independent, as Firestore and BigQuery are.
      const { db, state } = backends.sqlite();
      const { SqliteCompletionLedger } =
        require('../adapters/sqlite/completion-ledger') as typeof import('../adapters/sqlite/completion-ledger');
      const analytics = db.openStateDatabase(join(config.stateDir, 'analytics'));
      closers.push(() => Promise.resolve(analytics.close()));
      return {
        firestore: new SqliteCompletionLedger(state),
        bigquery: new SqliteCompletionLedger(analytics),
      };
    }
    case 'memory':
      return { firestore: new InMemoryCompletionLedger(), bigquery: new InMemoryCompletionLedger() };
  }
}
