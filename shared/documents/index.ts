export * from './types';
export {
  DECODE_SLICE_BYTES,
  checkText,
  contentHash,
  decodeCheckedText,
  decodeSlices,
  decodeText,
} from './decode';
export { inlineSource } from './inline';
export { makeSourceRouter, schemeOf } from './router';
