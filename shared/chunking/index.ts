export {
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  chunkText,
  iterateChunks,
  iterateChunksOfPieces,
  validateChunkOptions,
  type Chunk,
  type ChunkOptions,
} from './chunker';
