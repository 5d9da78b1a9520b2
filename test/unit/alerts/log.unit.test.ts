import { LogAlerter, RecordingAlerter, type Alert } from '../../../shared/alerts';
import { SlackAlerter } from '../../../shared/adapters/slack/alerter';
import { makeAlerter } from '../../../shared/runtime/alerter';
import type { LogFields, Logger } from '../../../shared/logging';
import { SecretRegistry } from '../../../shared/secrets/redaction';

function capturingLogger() {
  const entries: { level: string; message: string; fields: LogFields }[] = [];
  const at =
    (level: string) =>
    (message: string, fields: LogFields = {}): void => {
      entries.push({ level, message, fields });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    notice: at('notice'),
    warn: at('warn'),
    error: at('error'),
    critical: at('critical'),
    child: () => logger,
  };
  return { logger, entries };
}

const alert: Alert = {
  severity: 'error',
  title: 'Document failed permanently',
  functionName: 'ingestEvent',
  errorType: 'unsupported_content',
  message: 'binary content',
  stack: 'Error: binary content\n    at x',
  documentId: 'doc-1',
  batchId: 'b-1',
  correlationId: 'c-1',
  dedupeKey: 'dk',
};

describe('LogAlerter', () => {
  it.each([
    ['critical', 'critical'],
    ['error', 'error'],
    ['warning', 'warn'],
  ] as const)('logs a %s alert at %s, message "alert", with every field', async (severity, level) => {
    const { logger, entries } = capturingLogger();
    await new LogAlerter({ logger, registry: new SecretRegistry() }).send({ ...alert, severity });
    expect(entries).toEqual([
      {
        level,
        message: 'alert',
        fields: {
          alertSeverity: severity,
          title: alert.title,
          functionName: 'ingestEvent',
          errorType: 'unsupported_content',
          errorMessage: 'binary content',
          stack: alert.stack,
          documentId: 'doc-1',
          batchId: 'b-1',
          correlationId: 'c-1',
          dedupeKey: 'dk',
        },
      },
    ]);
  });

  it('masks known secret values', async () => {
    const { logger, entries } = capturingLogger();
    const registry = new SecretRegistry();
    registry.remember('s3cr3t-value-123');
    await new LogAlerter({ logger, registry }).send({ ...alert, message: 'bad password s3cr3t-value-123' });
    expect(entries[0]?.fields['errorMessage']).toBe('bad password [REDACTED]');
  });

  it('never rejects, even when the logger throws', async () => {
    const throwing: Logger = {
      ...capturingLogger().logger,
      error: () => {
        throw new Error('disk full');
      },
    };
    await expect(new LogAlerter({ logger: throwing }).send(alert)).resolves.toBeUndefined();
  });
});

describe('makeAlerter', () => {
  it('uses Slack when a webhook is configured, else the log', () => {
    const { logger } = capturingLogger();
    expect(makeAlerter({ logger })).toBeInstanceOf(LogAlerter);
    expect(makeAlerter({ logger, webhookUrl: undefined })).toBeInstanceOf(LogAlerter);
    expect(
      makeAlerter({ logger, webhookUrl: () => Promise.resolve('https://hooks.slack.com/x') }),
    ).toBeInstanceOf(SlackAlerter);
  });

  it('returns an alerter that can always be flushed', async () => {
    const { logger } = capturingLogger();
    await expect(makeAlerter({ logger }).flush()).resolves.toBeUndefined();
  });
});

describe('RecordingAlerter', () => {
  it('keeps alerts in order and can be cleared', async () => {
    const recorder = new RecordingAlerter();
    await recorder.send(alert);
    await recorder.send({ ...alert, title: 'second' });
    expect(recorder.alerts.map((a) => a.title)).toEqual([alert.title, 'second']);
    recorder.clear();
    expect(recorder.alerts).toEqual([]);
  });
});
