/**
 * A fake Slack incoming webhook on 127.0.0.1, and the secrets the chaos suites run with: the Neo4j
 * password and a webhook URL with a secret path, both handed out by a SecretStore so graphmill registers
 * them for redaction exactly as it does in production.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { SlackAlerter } from '../../../shared/adapters/slack/alerter';
import type { Logger } from '../../../shared/logging';
import { EnvSecretStore } from '../../../shared/secrets';
import type { SecretStore } from '../../../shared/ports/secret-store';

export interface SlackReceiver {
  readonly url: string;
  /** Bodies received (each an alert). */
  readonly bodies: string[];
  close(): Promise<void>;
}

export async function startSlackReceiver(): Promise<SlackReceiver> {
  const bodies: string[] = [];
  const token = randomBytes(18).toString('base64url');
  const path = `/services/T0CHAOS/B0CHAOS/${token}`;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1_000_000) chunks.push(c);
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end('no_service');
        return;
      }
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('slack receiver: no address');
  return {
    url: `http://127.0.0.1:${address.port}${path}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const NEO4J_PASSWORD_SECRET = 'neo4j-password';
export const SLACK_WEBHOOK_SECRET = 'slack-webhook-url';

/** The secret names graphmill's local wiring asks for, served from fixed values (registered when read). */
export function chaosSecrets(values: { neo4jPassword: string; webhookUrl: string }): SecretStore {
  return new EnvSecretStore(
    { CHAOS_NEO4J_PASSWORD: values.neo4jPassword, CHAOS_SLACK_WEBHOOK_URL: values.webhookUrl },
    {
      mapping: {
        [NEO4J_PASSWORD_SECRET]: 'CHAOS_NEO4J_PASSWORD',
        [SLACK_WEBHOOK_SECRET]: 'CHAOS_SLACK_WEBHOOK_URL',
      },
    },
  );
}

/**
 * The Slack alerter graphmill builds when a webhook is configured, pointed at the loopback receiver
 * (plain http to 127.0.0.1 is only accepted with allowInsecureLoopback, which the wiring never sets).
 */
export function chaosAlerter(secrets: SecretStore, logger: Logger): SlackAlerter {
  return new SlackAlerter({
    webhookUrl: () => secrets.get(SLACK_WEBHOOK_SECRET),
    logger,
    allowInsecureLoopback: true,
    dedupeWindowMs: 60_000,
    maxWaitMs: 200,
  });
}
