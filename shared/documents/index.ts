export * from './types';
export { DECODE_SLICE_BYTES, checkText, contentHash, decodeSlices, decodeText } from './decode';
export { inlineSource } from './inline';
export { makeFileSource } from './file';
export { makeSourceRouter, schemeOf } from './router';
