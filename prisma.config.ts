import { defineConfig } from 'prisma/config';

// The CLI is used for `generate`/`validate` only; migrations are applied by scripts/db-migrate.ts.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
