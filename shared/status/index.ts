export * from './types';
export { hasLiveLease } from './transitions';
