import type { HealthRepository } from './health.repository';

/** Readiness: the database answers and every migration on disk is applied. */
export class HealthService {
  constructor(private readonly repo: HealthRepository) {}

  ready(): Promise<boolean> {
    return this.repo.ready();
  }
}
