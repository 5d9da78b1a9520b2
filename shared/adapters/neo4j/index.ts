export * from './access';
export * from './errors';
export * from './graph-writer';
