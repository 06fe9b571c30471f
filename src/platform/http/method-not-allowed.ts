import type { NextFunction, Request, Response } from 'express';
import { methodNotAllowed as notAllowed } from '../errors';
import { registry } from '../openapi/registry';

interface KnownRoute {
  pattern: RegExp;
  methods: Set<string>;
}

/** 405 with Allow for a documented path called with another method; the OpenAPI document is the route table. */
export function methodNotAllowed() {
  let routes: KnownRoute[] | undefined;
  const load = () => {
    const byPath = new Map<string, Set<string>>();
    for (const d of registry.definitions) {
      if (d.type !== 'route') continue;
      const methods = byPath.get(d.route.path) ?? new Set<string>();
      methods.add(d.route.method.toUpperCase());
      if (d.route.method === 'get') methods.add('HEAD');
      byPath.set(d.route.path, methods);
    }
    return [...byPath].map(([path, methods]) => ({
      // case-insensitive like Express's routing, so /V1/BALANCE gets the same 405 as /v1/balance
      pattern: new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
      methods,
    }));
  };
  return (req: Request, _res: Response, next: NextFunction) => {
    routes ??= load();
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route || route.methods.has(req.method)) return next();
    const allow = [...route.methods].join(', ');
    next(notAllowed({ method: req.method, allow }));
  };
}
