import { migrate } from '../src/platform/db/migrator';

// Applies prisma/migrations to DATABASE_URL with `prisma migrate deploy`'s bookkeeping, then the SQL
// function files of prisma/sql/functions.
async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const applied = await migrate(url, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(applied.length ? `${applied.length} migration(s) applied\n` : 'No pending migrations\n');
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
