/**
 * The Firestore client, created on first use, and what every Firestore adapter shares: collection names,
 * document id encoding, transaction settings and error mapping. Only types are imported from
 * `@google-cloud/firestore` at module level, so importing an adapter loads nothing until a store is used.
 */
import type { DocumentSnapshot, Firestore, Settings, Transaction } from '@google-cloud/firestore';
import { dependencyUnavailable, isGraphmillError } from '../../errors';
import { errorCodeOf, isRetryable } from '../../resilience/classify';

/** Every collection the adapters use (documented field by field in docs/data-model.md). */
export const COLLECTIONS = {
  documents: 'documents',
  completions: 'completions',
  completionAggregates: 'completionAggregates',
  batches: 'batches',
  deadLetters: 'deadLetters',
} as const;

export interface FirestoreClientOptions {
  /** Defaults to the project of the environment (Cloud Run metadata, GOOGLE_CLOUD_PROJECT). */
  readonly projectId?: string;
  /** A named database; defaults to `(default)`. */
  readonly databaseId?: string;
  /**
   * REST transport until something needs gRPC (only listeners do, and no adapter listens): gRPC is not
   * loaded at all, which shortens cold starts. Default true, except against the emulator: the REST client
   * looks for real credentials there and fails without them (googleapis/nodejs-firestore#1811).
   */
  readonly preferRest?: boolean;
}

/** A client created on the first `get()`; `close()` terminates it if it was ever created. */
export interface LazyFirestore {
  /** A property, not a method: pass `lazy.get` itself to the stores as their FirestoreProvider. */
  readonly get: () => Firestore;
  readonly close: () => Promise<void>;
}

/**
 * The client the stores of one instance share. FIRESTORE_EMULATOR_HOST is honoured by the client itself
 * (plain-text connection to the emulator, no credentials), so tests and local runs need no option here.
 */
export function lazyFirestore(
  options: FirestoreClientOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): LazyFirestore {
  let client: Firestore | undefined;
  return {
    get: () => (client ??= createFirestore(options, env)),
    close: async () => {
      const c = client;
      client = undefined;
      if (c) await c.terminate();
    },
  };
}

export function createFirestore(
  options: FirestoreClientOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Firestore {
  // Loaded here, not at import: functions that never touch Firestore do not pay for it on cold start.
  const { Firestore: Client } =
    require('@google-cloud/firestore') as typeof import('@google-cloud/firestore');
  const settings: Settings = {
    preferRest: options.preferRest ?? !env['FIRESTORE_EMULATOR_HOST'],
    // Records are compacted before they are written; this only guards nested optional fields callers build.
    ignoreUndefinedProperties: true,
    ...(options.projectId !== undefined ? { projectId: options.projectId } : {}),
    ...(options.databaseId !== undefined ? { databaseId: options.databaseId } : {}),
  };
  return new Client(settings);
}

/** What the adapters receive: the shared client, or a function creating it on first use. */
export type FirestoreProvider = () => Firestore;

/**
 * Attempts per transaction. Firestore retries a transaction that lost a contention race (ABORTED); the
 * default of 5 is too few when a whole batch's last units, or many claims of one document, land at once.
 */
export const TRANSACTION_ATTEMPTS = 20;

/** A transaction with TRANSACTION_ATTEMPTS attempts: every read-modify-write of the adapters runs in one. */
export function runTransaction<T>(firestore: Firestore, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return firestore.runTransaction(fn, { maxAttempts: TRANSACTION_ATTEMPTS });
}

/**
 * The Firestore document id for a domain id. Ids may contain `/` (a path separator for Firestore) and
 * could be `.`, `..` or `__x__`, all invalid as document ids; percent-encoding (also `.` and a leading
 * `_`) makes every id valid and keeps the mapping one-to-one. The real id is stored in a field too, so
 * nothing ever decodes this.
 */
export function encodeDocId(id: string): string {
  return encodeURIComponent(id).replace(/\./g, '%2E').replace(/^_/, '%5F');
}

/** The stored object of a snapshot, typed as the record the adapter wrote. */
export function dataOf<T>(snap: DocumentSnapshot): T | undefined {
  return snap.exists ? (snap.data() as T) : undefined;
}

/**
 * Runs one Firestore call. A refusal from a transition (lease_lost, bad_request, ...) passes through;
 * a transient Firestore failure (UNAVAILABLE, ABORTED after all attempts, DEADLINE_EXCEEDED, ...)
 * becomes `dependency_unavailable` (503, retryable) with the original as `cause`; anything else
 * (PERMISSION_DENIED, INVALID_ARGUMENT) is rethrown as is: a configuration problem or a bug.
 */
export async function firestoreCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isGraphmillError(err) || !isRetryable(err)) throw err;
    throw dependencyUnavailable(`Firestore ${operation} failed (${errorCodeOf(err)})`, {
      cause: err,
      details: { operation },
    });
  }
}
