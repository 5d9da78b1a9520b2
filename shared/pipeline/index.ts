export * from './process-document';
