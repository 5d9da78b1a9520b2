import type { LogFields, Logger } from '../../shared/logging';

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'notice' | 'warn' | 'error' | 'critical';
  readonly message: string;
  readonly fields: LogFields;
}

/** A Logger that keeps every entry (children share the list and merge their fields). */
export function makeCapturingLogger(): Logger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (base: LogFields): Logger => {
    const at =
      (level: LogEntry['level']) =>
      (message: string, fields: LogFields = {}): void => {
        entries.push({ level, message, fields: { ...base, ...fields } });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      notice: at('notice'),
      warn: at('warn'),
      error: at('error'),
      critical: at('critical'),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return Object.assign(make({}), { entries });
}
