export type { SecretStore } from '../ports/secret-store';
export { EnvSecretStore, envVarNameFor, type EnvSecretStoreOptions } from './env';
export { CachedSecretStore, type CachedSecretStoreOptions } from './cached';
export { MIN_SECRET_LENGTH, REDACTED, SENSITIVE_KEY, SecretRegistry, secretRegistry } from './redaction';
