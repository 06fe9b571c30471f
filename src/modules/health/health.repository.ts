import type { Database } from '../../platform/db/database';
import { pendingMigrations } from '../../platform/db/migrator';

export class HealthRepository {
  private migrated = false;

  constructor(private readonly db: Database) {}

  /** True when the database answers and every migration on disk is applied. */
  async ready(): Promise<boolean> {
    await this.db.prisma.$queryRaw`SELECT 1`;
    // Applied migrations never un-apply, so once seen complete this stays true.
    if (!this.migrated)
      this.migrated =
        (
          await pendingMigrations((sql) =>
            this.db.prisma.$queryRawUnsafe(sql).then((rows) => ({ rows: rows as Array<{ migration_name: string }> })),
          )
        ).length === 0;
    return this.migrated;
  }
}
