import { pipeline } from 'node:stream/promises';
import type { IRouter } from 'express';
import { principalOf, SCOPES, targetUserId } from '../../platform/auth/auth.middleware';
import { dataAsOf } from '../../platform/http/data-as-of';
import { parseInput } from '../../platform/http/validate';
import { ExportQuery, LedgerQuery } from './ledger.schemas';
import type { LedgerService } from './ledger.service';

export function ledgerRoutes(router: IRouter, ledger: LedgerService): void {
  router.get('/v1/ledger', async (req, res) => {
    const query = parseInput(LedgerQuery, req.query, 'query');
    const { body, asOf } = await ledger.page(targetUserId(req, query.userId), query);
    dataAsOf(res, asOf).json(body);
  });

  router.get('/v1/ledger/export.csv', async (req, res) => {
    const query = parseInput(ExportQuery, req.query, 'query');
    // billing:admin without ?userId= exports every wallet; anyone else exports their own.
    const allUsers = query.userId === undefined && principalOf(req).scopes.has(SCOPES.admin);
    const userId = allUsers ? undefined : targetUserId(req, query.userId);
    const { stream, done, asOf } = await ledger.exportCsv(userId, query);
    const day = new Date().toISOString().slice(0, 10);
    const name = `ledger-${allUsers ? 'all' : 'user'}-${day}.csv`;
    dataAsOf(res, asOf)
      .status(200)
      .set({
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${name}"`,
        'Cache-Control': 'no-store',
      });
    try {
      await pipeline(stream, res);
      done();
    } catch (error) {
      done(error as Error);
      req.log.warn({ err: error }, 'CSV export ended early');
    }
  });
}
