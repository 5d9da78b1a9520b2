/**
 * The largest request body any configuration accepts (the upper bound of MAX_REQUEST_BYTES). Kept apart
 * from shared/config so that the entrypoints can use it without loading the configuration's validation at
 * import.
 */
export const REQUEST_BYTES_CEILING = 10 * 1024 * 1024;

/** MAX_REQUEST_BYTES when the variable is unset. */
export const REQUEST_BYTES_DEFAULT = 64 * 1024;

/**
 * MAX_REQUEST_BYTES as the body hook enforces it, before the configuration is parsed: a cheap read of the
 * same variable with the same default. A value the configuration would refuse falls back to the ceiling
 * (the function then fails to start on its first request anyway).
 */
export function requestBytesLimit(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env['MAX_REQUEST_BYTES']?.trim();
  if (raw === undefined || raw === '') return REQUEST_BYTES_DEFAULT;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 && n <= REQUEST_BYTES_CEILING ? n : REQUEST_BYTES_CEILING;
}
