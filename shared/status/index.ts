export * from './types';
export { InMemoryStatusStore } from './memory';
export { hasLiveLease } from './transitions';
