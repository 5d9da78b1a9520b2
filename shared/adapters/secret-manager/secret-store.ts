import {
  configInvalid,
  dependencyTimeout,
  dependencyUnavailable,
  isGraphmillError,
  toGraphmillError,
  type GraphmillError,
} from '../../errors';
import { errorCodeOf, isRetryable } from '../../resilience/classify';
import type { Policy } from '../../resilience/policies';
import { secretRegistry, type SecretRegistry } from '../../secrets/redaction';
import type { SecretStore } from '../../ports/secret-store';

/** The slice of `SecretManagerServiceClient` this adapter uses (the real client satisfies it). */
export interface SecretManagerLike {
  accessSecretVersion(request: {
    name: string;
  }): Promise<readonly [AccessSecretVersionResponseLike, ...unknown[]]>;
}
export interface AccessSecretVersionResponseLike {
  payload?: { data?: Uint8Array | string | null } | null;
}

export interface SecretManagerSecretStoreOptions {
  readonly projectId: string;
  /** Builds the client on the first `get`; defaults to a real SecretManagerServiceClient. */
  readonly client?: () => SecretManagerLike;
  /** Version read for plain secret ids. Default `latest`. */
  readonly version?: string;
  /** Wraps each access call, e.g. `makeRetry(RESILIENCE_PRESETS.secretManager)`. */
  readonly policy?: Policy;
  readonly registry?: SecretRegistry;
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSIONED = /^projects\/[^/]+\/secrets\/[A-Za-z0-9_-]+\/versions\/[^/]+$/;
const UNVERSIONED = /^projects\/[^/]+\/secrets\/[A-Za-z0-9_-]+$/;

// gRPC codes that mean the secret cannot be read as configured: retrying will not help.
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNAUTHENTICATED = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Secrets from Google Secret Manager. The GCP client library is loaded and the client created on the first
 * `get`, not at import: cold starts of functions that never read a secret do not pay for it. No caching
 * here: put a CachedSecretStore in front.
 */
export class SecretManagerSecretStore implements SecretStore {
  private client: SecretManagerLike | undefined;
  private readonly makeClient: () => SecretManagerLike;
  private readonly version: string;
  private readonly registry: SecretRegistry;

  constructor(private readonly options: SecretManagerSecretStoreOptions) {
    if (options.projectId.trim() === '') throw configInvalid('Secret Manager needs a project id');
    this.makeClient = options.client ?? defaultClient;
    this.version = options.version ?? 'latest';
    this.registry = options.registry ?? secretRegistry;
  }

  /** `projects/P/secrets/NAME/versions/V` for a secret id; a full resource name is used as given. */
  resourceName(name: string): string {
    if (VERSIONED.test(name)) return name;
    if (UNVERSIONED.test(name)) return `${name}/versions/${this.version}`;
    if (!SECRET_ID.test(name)) {
      throw configInvalid(`"${name}" is not a Secret Manager secret id or resource name`);
    }
    return `projects/${this.options.projectId}/secrets/${name}/versions/${this.version}`;
  }

  async get(name: string): Promise<string> {
    const resource = this.resourceName(name);
    const client = this.clientOnce();
    const access = (): Promise<string> => this.access(client, resource);
    const value = this.options.policy ? await this.options.policy.execute(access) : await access();
    this.registry.remember(value);
    return value;
  }

  invalidate(_name: string): void {
    // Nothing cached.
  }

  private clientOnce(): SecretManagerLike {
    if (this.client === undefined) {
      try {
        this.client = this.makeClient();
      } catch (err) {
        throw configInvalid('Could not create the Secret Manager client', { cause: err });
      }
    }
    return this.client;
  }

  private async access(client: SecretManagerLike, resource: string): Promise<string> {
    let response: AccessSecretVersionResponseLike;
    try {
      [response] = await client.accessSecretVersion({ name: resource });
    } catch (err) {
      throw toSecretError(err, resource);
    }
    const data = response.payload?.data;
    if (data === undefined || data === null) {
      throw configInvalid(`Secret ${resource} has no payload`, { details: { resource } });
    }
    if (typeof data === 'string') return data;
    try {
      return utf8.decode(data);
    } catch (err) {
      throw configInvalid(`Secret ${resource} is not valid UTF-8 text`, {
        cause: err,
        details: { resource },
      });
    }
  }
}

function defaultClient(): SecretManagerLike {
  type Module = typeof import('@google-cloud/secret-manager');
  const { SecretManagerServiceClient } = require('@google-cloud/secret-manager') as Module;
  return new SecretManagerServiceClient();
}

/** Maps a client failure to a GraphmillError that keeps the original as `cause`. */
function toSecretError(err: unknown, resource: string): GraphmillError {
  if (isGraphmillError(err)) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const details = { resource, upstream: errorCodeOf(err) };
  switch (code) {
    case GRPC_NOT_FOUND:
      return configInvalid(`Secret ${resource} does not exist (or that version is not enabled)`, {
        cause: err,
        details,
      });
    case GRPC_PERMISSION_DENIED:
      return configInvalid(
        `Not allowed to read secret ${resource}: grant the service account roles/secretmanager.secretAccessor`,
        { cause: err, details },
      );
    case GRPC_UNAUTHENTICATED:
      return configInvalid(`Secret Manager rejected the credentials while reading ${resource}`, {
        cause: err,
        details,
      });
    case GRPC_FAILED_PRECONDITION:
      return configInvalid(`Secret ${resource} is disabled or destroyed`, { cause: err, details });
    case GRPC_INVALID_ARGUMENT:
      return configInvalid(`Secret Manager rejected the name ${resource}`, { cause: err, details });
  }
  if (isRetryable(err)) {
    const extra = { cause: err, details };
    return code === GRPC_DEADLINE_EXCEEDED || errorCodeOf(err) === 'ETIMEDOUT'
      ? dependencyTimeout(`Secret Manager timed out reading ${resource}`, extra)
      : dependencyUnavailable(`Secret Manager is unavailable reading ${resource}`, extra);
  }
  return toGraphmillError(err);
}
