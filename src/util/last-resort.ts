import type { Logger } from 'pino';

/**
 * The process's last line of defence. Nothing known should reach these handlers: every socket,
 * pool and call has its own error path. If something still does, the process is in an unknown
 * state, so it logs what happened and exits non-zero for its supervisor (systemd, Docker) to
 * restart it — a clean restart beats a half-working receptionist.
 */

export const shutdownDefaults = {
  /** SIGTERM must finish within 10 s (systemd's and Docker's patience); we exit before that. */
  graceMs: 9_000,
  /** Exit code when the grace period runs out or an unexpected error reaches the top. */
  failureExitCode: 1,
} as const satisfies Record<string, number>;

export function installLastResort(logger: Logger, exit: (code: number) => void = (c) => process.exit(c)): () => void {
  const onException = (err: unknown, origin: string) => {
    logger.fatal({ err, origin }, 'unexpected error reached the top of the process; exiting for the supervisor to restart');
    exit(shutdownDefaults.failureExitCode);
  };
  const onRejection = (err: unknown) => onException(err, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/** Runs `stop`, but exits the process non-zero if it has not finished within the grace period. */
export async function stopWithin(logger: Logger, stop: () => Promise<void>, exit: (code: number) => void = (c) => process.exit(c)): Promise<void> {
  const timer = setTimeout(() => {
    logger.error({ graceMs: shutdownDefaults.graceMs }, 'shutdown did not finish in time; exiting');
    exit(shutdownDefaults.failureExitCode);
  }, shutdownDefaults.graceMs);
  timer.unref();
  try {
    await stop();
  } finally {
    clearTimeout(timer);
  }
}
