/** `npm run bench -- [--quick] [--only chunker,writer,e2e,functions,coldstart,memory] [--reps N]` */
import { parseArgs } from 'node:util';

export const SUITES = ['chunker', 'writer', 'e2e', 'functions', 'coldstart', 'memory'] as const;
export type Suite = (typeof SUITES)[number];

export interface BenchOptions {
  /** Small inputs and few repetitions: a smoke run of the harness, not figures to quote. */
  readonly quick: boolean;
  readonly only: ReadonlySet<Suite>;
  /** Overrides every suite's number of timed repetitions. */
  readonly reps: number | undefined;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [--quick] [--only ${SUITES.join(',')}] [--reps N]

  --quick     small inputs and 1-2 repetitions (a smoke run; figures are not comparable)
  --only      comma-separated suites to run (default: all)
  --reps N    timed repetitions per figure (default: per suite, after one warm-up)
`;

export class UsageError extends Error {}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        reps: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  let only: Set<Suite> = new Set(SUITES);
  if (values.only !== undefined) {
    const names = values.only
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const unknown = names.filter((n) => !(SUITES as readonly string[]).includes(n));
    if (unknown.length > 0 || names.length === 0) {
      throw new UsageError(
        `--only: unknown suite(s) ${unknown.join(', ') || '(none given)'}; known: ${SUITES.join(', ')}`,
      );
    }
    only = new Set(names as Suite[]);
  }
  let reps: number | undefined;
  if (values.reps !== undefined) {
    reps = Number(values.reps);
    if (!Number.isInteger(reps) || reps < 1 || reps > 100) {
      throw new UsageError(`--reps must be an integer from 1 to 100, got "${values.reps}"`);
    }
  }
  return { quick: values.quick, only, reps, help: values.help };
}
