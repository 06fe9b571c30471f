import type { Express } from 'express';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
  rawPath?: string;
}

/** Every "METHOD /path" the Express 5 router serves, in OpenAPI spelling ({param}); implicit HEAD left out. */
export function expressRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          if (typeof p !== 'string') throw new Error('routes must be string paths to be documented');
          const openApiPath = `${prefix}${p}`.replace(/:(\w+)/g, '{$1}');
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== '_all') found.push(`${method.toUpperCase()} ${openApiPath}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, layer.slash || !layer.rawPath ? prefix : `${prefix}${layer.rawPath}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return [...new Set(found)].sort();
}

/** Every "METHOD /path" in an OpenAPI document. */
export function documentedRoutes(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head']);
  return Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => methods.has(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}
