import winston from 'winston';
import type Transport from 'winston-transport';

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
  /** Where lines go; defaults to stdout for json (Cloud Logging) and stderr for pretty (keeps CLI stdout clean). */
  readonly transport?: Transport;
}

// Cloud Logging severities, in winston's syslog order.
const LEVELS = { emergency: 0, alert: 1, critical: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

export function makeLogger(options: LoggerOptions): Logger {
  const transport = options.transport ?? defaultTransport(options.format);
  const w = winston.createLogger({
    levels: LEVELS,
    level: options.level === 'warn' ? 'warning' : options.level,
    transports: [transport],
    defaultMeta: options.base ?? {},
  });
  return wrap(w);
}

function defaultTransport(format: 'json' | 'pretty'): Transport {
  if (format === 'json') {
    // Structured JSON on stdout with `severity`, the shape Cloud Logging parses from Cloud Run.
    return new winston.transports.Console({
      format: winston.format.combine(
        winston.format((info) => {
          (info as Record<string, unknown>)['severity'] = String(info.level).toUpperCase();
          return info;
        })(),
        winston.format.json(),
      ),
    });
  }
  return new winston.transports.Console({
    stderrLevels: Object.keys(LEVELS),
    format: winston.format.combine(
      winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
      winston.format.printf((info) => {
        const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
        const fields = Object.entries(rest)
          .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
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
      w.log(level, message, fields);
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
