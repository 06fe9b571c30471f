import type { Request, Response } from 'express';
import { AppError } from '../errors';

export const PROBLEM_BASE = 'https://billing.scholarlink.app/problems/';

export function problemBody(req: Request, error: AppError) {
  return {
    type: `${PROBLEM_BASE}${error.code.replace(/_/g, '-')}`,
    title: error.title,
    status: error.status,
    detail: error.detail ?? error.title,
    code: error.code,
    correlationId: req.correlationId,
    ...error.extensions,
  };
}

export function sendProblem(req: Request, res: Response, error: AppError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res
    .status(error.status)
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(req, error)));
}
