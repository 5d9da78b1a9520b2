export * from './types';
export { decodeText, contentHash } from './decode';
export { inlineSource } from './inline';
export { makeFileSource } from './file';
export { makeSourceRouter, schemeOf } from './router';
