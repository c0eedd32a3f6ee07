import pino, { type Logger } from 'pino';

export type { Logger };

/** One JSON logger for the process; child loggers per component (`logger.child({ mod: 'sip' })`). */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { app: 'frontdesk' }, timestamp: pino.stdTimeFunctions.isoTime });
}

export const silentLogger: Logger = pino({ level: 'silent' });
