/**
 * The adapters every contract suite runs against, and the one way suites are declared. Each port's
 * suite is a function of a Subject; `describeContract` runs it against the in-memory adapter and SQLite
 * (an in-memory database, and a file database opened twice, as the CLI and `serve` share it) always,
 * and against Firestore when FIRESTORE_EMULATOR_HOST points at an emulator. Each Firestore test gets
 * its own emulator project (so runs never see each other's data) and deletes it afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { createFirestore, type FirestoreProvider } from '../../shared/adapters/firestore/client';
import { openMemoryDatabase, openStateDatabase } from '../../shared/adapters/sqlite/database';

/** Two handles on the same state (`other` is a second connection where the adapter has connections). */
export interface Pair<T> {
  readonly store: T;
  readonly other: T;
  cleanup(): Promise<void>;
}

export interface Subject<T> {
  readonly name: string;
  make(): Pair<T>;
}

/** How to build a port's adapters; the SQLite and Firestore ones get the connection the subject opened. */
export interface Adapters<T> {
  readonly memory: { readonly name: string; readonly make: () => T };
  readonly sqlite: { readonly name: string; readonly make: (db: DatabaseSync) => T };
  readonly firestore: { readonly name: string; readonly make: (firestore: FirestoreProvider) => T };
}

export const FIRESTORE_EMULATOR_HOST = process.env['FIRESTORE_EMULATOR_HOST'];
const SKIP_REASON = 'FIRESTORE_EMULATOR_HOST is not set; the GitHub workflow runs it against the emulator';

function memorySubject<T>(name: string, make: () => T): Subject<T> {
  return {
    name,
    make: () => {
      const store = make();
      return { store, other: store, cleanup: () => Promise.resolve() };
    },
  };
}

function sqliteSubjects<T>(name: string, make: (db: DatabaseSync) => T): Subject<T>[] {
  return [
    {
      name: `${name} (memory)`,
      make: () => {
        const db = openMemoryDatabase();
        const store = make(db);
        return { store, other: store, cleanup: () => Promise.resolve(db.close()) };
      },
    },
    {
      name: `${name} (file, two connections)`,
      make: () => {
        const dir = mkdtempSync(join(tmpdir(), 'graphmill-contract-'));
        const dbs = [openStateDatabase(dir), openStateDatabase(dir)] as const;
        return {
          store: make(dbs[0]),
          other: make(dbs[1]),
          cleanup: () => {
            for (const db of dbs) if (db.isOpen) db.close();
            rmSync(dir, { recursive: true, force: true });
            return Promise.resolve();
          },
        };
      },
    },
  ];
}

let projectSeq = 0;

/** Two clients (two connections) on a fresh emulator project; cleanup deletes the project's data. */
function firestoreSubject<T>(name: string, make: (firestore: FirestoreProvider) => T): Subject<T> {
  return {
    name,
    make: () => {
      const projectId = `demo-graphmill-${process.pid}-${++projectSeq}`;
      const clients = [createFirestore({ projectId }), createFirestore({ projectId })] as const;
      return {
        store: make(() => clients[0]),
        other: make(() => clients[1]),
        cleanup: async () => {
          await Promise.all(clients.map((c) => c.terminate()));
          const res = await fetch(
            `http://${FIRESTORE_EMULATOR_HOST}/emulator/v1/projects/${projectId}/databases/(default)/documents`,
            { method: 'DELETE' },
          );
          if (!res.ok) throw new Error(`emulator cleanup of ${projectId} failed: HTTP ${res.status}`);
        },
      };
    },
  };
}

/**
 * Declares `<port> contract` with one describe per adapter, each running `suite`. Without an emulator the
 * Firestore describe is still declared, skipped, with the reason in its name and printed once.
 */
export function describeContract<T>(
  port: string,
  adapters: Adapters<T>,
  suite: (subject: Subject<T>) => void,
): void {
  const { memory, sqlite, firestore } = adapters;
  describe(`${port} contract`, () => {
    beforeAll(() => {
      console.info(
        FIRESTORE_EMULATOR_HOST
          ? `${port} contract: ${firestore.name} runs against the emulator at ${FIRESTORE_EMULATOR_HOST}`
          : `${port} contract: ${firestore.name} skipped: ${SKIP_REASON}`,
      );
    });
    for (const subject of [
      memorySubject(memory.name, memory.make),
      ...sqliteSubjects(sqlite.name, sqlite.make),
    ]) {
      describe(subject.name, () => suite(subject));
    }
    const remote = firestoreSubject(firestore.name, firestore.make);
    if (FIRESTORE_EMULATOR_HOST) describe(remote.name, () => suite(remote));
    else describe.skip(`${remote.name} (skipped: ${SKIP_REASON})`, () => suite(remote));
  });
}
