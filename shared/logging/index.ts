import winston from 'winston';
import type Transport from 'winston-transport';
import { secretRegistry } from '../secrets/redaction';

export { traceFields, TRACE_KEY } from './trace';

export type LogFields = Readonly<Record<string, unknown>>;

/** The logging port. Every pipeline component receives one; tests pass a capturing one. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  notice(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  critical(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
  /** Constant fields on every entry (function name, ...). */
  readonly base?: LogFields;
  /** json format only: the project for Cloud Logging's structured fields. */
  readonly projectId?: string | undefined;
  /** Overrides the destination (tests capture entries here). */
  readonly transport?: Transport;
}

// Cloud Logging severities, in winston's syslog order.
export const LEVELS = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/**
 * Masks every secret value the process has read, and every field named like a password, token, key,
 * authorization or webhook, in the message and in all fields, before any transport sees the entry.
 */
const redaction = winston.format((info) => {
  const out = info as Record<string | symbol, unknown>;
  for (const key of Object.keys(out)) {
    if (key === 'level') continue;
    out[key] = secretRegistry.redactFields({ [key]: out[key] })[key];
  }
  return info;
});

export function makeLogger(options: LoggerOptions): Logger {
  const transport = options.transport ?? defaultTransport(options);
  const w = winston.createLogger({
    levels: LEVELS,
    level: options.level === 'warn' ? 'warning' : options.level,
    format: redaction(),
    transports: [transport],
    defaultMeta: options.base ?? {},
  });
  return wrap(w);
}

function defaultTransport(options: LoggerOptions): Transport {
  if (options.format === 'json') {
    // Structured JSON on stdout with `severity`, trace and span fields: what Cloud Logging ingests from
    // Cloud Run. Loaded only here, so local runs and cold starts that never log JSON do not pay for it.
    const { LoggingWinston } =
      require('@google-cloud/logging-winston') as typeof import('@google-cloud/logging-winston');
    const service = process.env['K_SERVICE'];
    return new LoggingWinston({
      redirectToStdout: true,
      useMessageField: false,
      levels: LEVELS,
      ...(options.projectId ? { projectId: options.projectId } : {}),
      resource: service
        ? {
            type: 'cloud_run_revision',
            labels: {
              service_name: service,
              revision_name: process.env['K_REVISION'] ?? '',
              configuration_name: process.env['K_CONFIGURATION'] ?? '',
            },
          }
        : { type: 'global', labels: {} },
    });
  }
  return new winston.transports.Console({
    stderrLevels: Object.keys(LEVELS),
    format: winston.format.combine(
      winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
      winston.format.printf((info) => {
        const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        return `${String(timestamp)} ${String(level).toUpperCase().padEnd(8)} ${String(message)}${fields ? `  ${fields}` : ''}`;
      }),
    ),
  });
}

function wrap(w: winston.Logger): Logger {
  const at =
    (level: keyof typeof LEVELS) =>
    (message: string, fields: LogFields = {}): void => {
      // winston runs the formats (redaction) before its transports drop a disabled level: check first.
      if (w.isLevelEnabled(level)) w.log(level, message, fields);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    notice: at('notice'),
    warn: at('warning'),
    error: at('error'),
    critical: at('critical'),
    child: (fields) => wrap(w.child(fields)),
  };
}

/** A logger that drops everything, for tests that do not inspect logs. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  notice: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  critical: () => undefined,
  child: () => silentLogger,
};
