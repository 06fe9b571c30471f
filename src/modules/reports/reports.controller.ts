import type { IRouter, Request, Response } from 'express';
import { requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { toCsv } from '../../platform/csv';
import { dataAsOf } from '../../platform/http/data-as-of';
import { parseInput } from '../../platform/http/validate';
import { CreditsReportQuery, PeriodQuery, UsageReportQuery } from './reports.schemas';
import { resolvePeriod, type ReportsService } from './reports.service';
import { revenueCsvRows } from './revenue.csv';
import type { RevenueReportService } from './revenue.service';

/** JSON by default; CSV when the caller asks for it with Accept: text/csv. X-Data-As-Of when the replica answered. */
function respond(
  req: Request,
  res: Response,
  name: string,
  json: object,
  rows: Array<Record<string, unknown>>,
  asOf: Date | null,
) {
  dataAsOf(res, asOf);
  if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
    const columns = rows.length ? Object.keys(rows[0]) : [];
    res
      .set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${name}.csv"` })
      .send(toCsv(columns, rows));
    return;
  }
  res.json(json);
}

export function reportsRoutes(router: IRouter, reports: ReportsService, revenue?: RevenueReportService): void {
  router.use('/v1/admin/reports', requireScope(SCOPES.admin));

  router.get('/v1/admin/reports/credits', async (req, res) => {
    const query = parseInput(CreditsReportQuery, req.query, 'query');
    const { value: report, asOf } = await reports.credits(resolvePeriod(query), { full: query.full });
    const rows = [
      ...report.byType.map((r) => ({
        section: 'type',
        name: r.type,
        transactions: r.transactions,
        amount: r.walletAmount,
        ok: '',
      })),
      ...report.byAccount.map((r) => ({
        section: 'account',
        name: r.account,
        transactions: '',
        amount: r.periodNet,
        ok: '',
      })),
      ...report.invariants.map((i) => ({
        section: 'invariant',
        name: i.name,
        transactions: '',
        amount: '',
        ok: String(i.ok),
      })),
    ];
    respond(req, res, 'credits-report', report, rows, asOf);
  });

  router.get('/v1/admin/reports/usage', async (req, res) => {
    const query = parseInput(UsageReportQuery, req.query, 'query');
    const { value: report, asOf } = await reports.usage(resolvePeriod(query), query.groupBy);
    respond(req, res, `usage-report-by-${query.groupBy}`, report, report.data, asOf);
  });

  if (revenue) {
    router.get('/v1/admin/reports/revenue', async (req, res) => {
      const { value: report, asOf } = await revenue.served(resolvePeriod(parseInput(PeriodQuery, req.query, 'query')));
      respond(req, res, 'revenue-report', report, revenueCsvRows(report), asOf);
    });
  }
}
