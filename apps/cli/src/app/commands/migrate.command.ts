import { Argument, type Command } from 'commander';
import { type CliContext, redactUrl } from '../cli-context';
import { CliError } from '../cli-error';
import type { CliIo } from '../output';

export function registerMigrate(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('migrate')
    .description('Create the database if it is missing and apply pending migrations (up), or revert the last one (down).')
    .addArgument(new Argument('[direction]', 'up or down').choices(['up', 'down']).default('up'))
    .action(async (direction: 'up' | 'down') => {
      const url = ctx().config.DATABASE_URL;
      const { ensureDatabase, revertLastMigration, runMigrations } = await import('@sluice/db');
      try {
        if (direction === 'down') {
          await revertLastMigration(url);
          io.out.write('reverted the last migration\n');
          return;
        }
        if (await ensureDatabase(url)) io.out.write(`created the database ${redactUrl(url)}\n`);
        const applied = await runMigrations(url);
        io.out.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
      } catch (e) {
        throw new CliError(`migrate ${direction} failed on ${redactUrl(url)}: ${(e as Error).message}`);
      }
    });
}
