// `npm run migrate [up|down]`: creates the database if missing, then applies (or reverts the last) migration.
import 'reflect-metadata';
import { CommonConfig, loadConfig } from '@sluice/config';
import { ensureDatabase, revertLastMigration, runMigrations } from '@sluice/db';

async function main(): Promise<void> {
  const direction = process.argv[2] ?? 'up';
  const { DATABASE_URL } = loadConfig(CommonConfig);
  if (direction === 'down') {
    await revertLastMigration(DATABASE_URL);
    process.stdout.write('reverted the last migration\n');
    return;
  }
  if (direction !== 'up') throw new Error(`unknown direction "${direction}" (use up or down)`);
  if (await ensureDatabase(DATABASE_URL)) process.stdout.write('created the database\n');
  const applied = await runMigrations(DATABASE_URL);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`migrate failed: ${(e as Error).message}\n`);
  process.exit(1);
});
