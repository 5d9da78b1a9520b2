/**
 * The largest request body any configuration accepts (the upper bound of MAX_REQUEST_BYTES). Checked on
 * the declared Content-Length before the functions framework reads a byte; the handler then enforces the
 * configured limit. Kept apart from shared/config so that the entrypoints can use it without loading the
 * configuration's validation at import.
 */
export const REQUEST_BYTES_CEILING = 10 * 1024 * 1024;
