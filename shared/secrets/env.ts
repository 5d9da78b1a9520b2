import type { Env } from '../config';
import { configInvalid } from '../errors';
import { secretRegistry, type SecretRegistry } from './redaction';
import type { SecretStore } from '../ports/secret-store';

export interface EnvSecretStoreOptions {
  /** Prepended to the derived variable name: prefix `GRAPHMILL_` maps `neo4j-password` to `GRAPHMILL_NEO4J_PASSWORD`. */
  readonly prefix?: string;
  /** Explicit secret name -> variable name; wins over the derived name (and ignores the prefix). */
  readonly mapping?: Readonly<Record<string, string>>;
  readonly registry?: SecretRegistry;
}

/**
 * The upper-snake-case variable for a secret: `neo4j-password` -> `NEO4J_PASSWORD`, `slackWebhookUrl` ->
 * `SLACK_WEBHOOK_URL`. A full resource name (`projects/p/secrets/x/versions/3`) maps by its secret id.
 */
export function envVarNameFor(name: string, prefix = ''): string {
  const id = /^projects\/[^/]+\/secrets\/([^/]+)/.exec(name)?.[1] ?? name;
  const snake = id
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return `${prefix}${snake}`;
}

/**
 * Secrets from environment variables, for local runs. A missing or empty variable is a configuration
 * error (never a silent empty password). The environment does not change under a running process, so
 * `invalidate` has nothing to drop.
 */
export class EnvSecretStore implements SecretStore {
  private readonly prefix: string;
  private readonly mapping: Readonly<Record<string, string>>;
  private readonly registry: SecretRegistry;

  constructor(
    private readonly env: Env,
    options: EnvSecretStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? '';
    this.mapping = options.mapping ?? {};
    this.registry = options.registry ?? secretRegistry;
  }

  get(name: string): Promise<string> {
    const variable = this.variableFor(name);
    const value = this.env[variable];
    if (value === undefined || value.trim() === '') {
      return Promise.reject(
        configInvalid(`Secret "${name}" is not set: define the environment variable ${variable}`, {
          details: { envVar: variable },
        }),
      );
    }
    this.registry.remember(value);
    return Promise.resolve(value);
  }

  invalidate(_name: string): void {
    // Nothing cached.
  }

  variableFor(name: string): string {
    return Object.hasOwn(this.mapping, name)
      ? (this.mapping[name] as string)
      : envVarNameFor(name, this.prefix);
  }
}
