import { Command, CommanderError } from 'commander';
import { CliContext } from './cli-context';
import { CliError, describeError, EXIT } from './cli-error';
import { registerCheck } from './commands/check.command';
import { registerBackfill } from './commands/backfill.command';
import { registerContract } from './commands/contract.command';
import { registerMaintenance } from './commands/maintenance.command';
import { registerMigrate } from './commands/migrate.command';
import { registerReplay } from './commands/replay.command';
import { registerRetrieveSensorReadings } from './commands/retrieve-sensor-readings.command';
import { registerStatus } from './commands/status.command';
import { registerWhy } from './commands/why.command';
import { type CliIo, escapeControls, escapeControlsInLines } from './output';

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version', 'commander.executeSubCommandAsync']);

export function buildProgram(ctx: () => CliContext, io: CliIo, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('sluice')
    .description(
      'Sluice from the command line: read sensor readings, backfill a folder, migrate, maintenance, replay, status, why a file was refused; data contracts (preview): contract init, contract diff; check (a dry run of loading files).',
    )
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(escapeControlsInLines(s)), writeErr: (s) => io.err.write(escapeControlsInLines(s)) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Environment: DATABASE_URL, NATS_URL, NATS_NAMESPACE, DROPZONE_DIR (backfill, replay, status, migrate, maintenance;
the retention variables for maintenance);
QUERY_API_URL, QUERY_API_KEY (retrieve-sensor-readings);
CONTRACTS_DIR, else contracts/ beside DROPZONE_DIR (contract init, contract diff). Exit codes: 0 ok, 1 failure, 2 usage.`,
    );
  registerRetrieveSensorReadings(program, ctx, io);
  registerBackfill(program, ctx, io);
  registerMigrate(program, ctx, io);
  registerMaintenance(program, ctx, io);
  registerReplay(program, ctx, io);
  registerStatus(program, ctx, io);
  registerWhy(program, ctx, io);
  registerContract(program, io, env);
  registerCheck(program, ctx, io, env);
  return program;
}

/** Runs one command line; returns the exit code. Never throws, never prints a stack trace. */
export async function runCli(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let context: CliContext | undefined;
  const ctx = () => (context ??= CliContext.fromEnv(env));
  // `sluice … | head` closes stdout early: that is not an error.
  (io.out as NodeJS.WriteStream).on?.('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
  });
  try {
    await buildProgram(ctx, io, env).parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return HELP_CODES.has(e.code) ? EXIT.ok : EXIT.usage;
    io.err.write(`sluice: ${escapeControls(describeError(e))}\n`);
    return e instanceof CliError ? e.exitCode : (e as Error).name === 'ConfigError' ? EXIT.usage : EXIT.failure;
  } finally {
    await context?.close();
  }
}
