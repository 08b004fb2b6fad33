/** Exit codes of every command: 0 ok, 1 the work failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the user can act on: printed as one line (no stack), exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }

  static usage(message: string): CliError {
    return new CliError(message, EXIT.usage);
  }
}

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
};

/** One readable line for anything thrown: our own errors as they are, system errors with their cause. */
export function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message;
  const err = e as (Error & { code?: string; cause?: { code?: string; message?: string } }) | undefined;
  const code = err?.code ?? err?.cause?.code;
  if (code && CONNECTION_CODES[code]) return `${err?.message ?? ''}${err?.cause?.message ? ` (${err.cause.message})` : ''}`.trim() || CONNECTION_CODES[code];
  if (err?.name === 'ConfigError') return err.message;
  return err?.message ?? String(e);
}
