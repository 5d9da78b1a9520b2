export type { SecretStore } from './types';
export { EnvSecretStore, envVarNameFor, type EnvSecretStoreOptions } from './env';
export {
  SecretManagerSecretStore,
  type AccessSecretVersionResponseLike,
  type SecretManagerLike,
  type SecretManagerSecretStoreOptions,
} from './secret-manager';
export { CachedSecretStore, type CachedSecretStoreOptions } from './cached';
export { MIN_SECRET_LENGTH, REDACTED, SENSITIVE_KEY, SecretRegistry, secretRegistry } from './redaction';
