import http from 'node:http';
import type { Express } from 'express';

/**
 * Options for http.createServer under which Node builds every request and response on the app's own
 * Express prototypes (app.request, app.response) from the start.
 *
 * Why: Express's app.handle gives each request and response those prototypes with
 * Object.setPrototypeOf, after Node has built them. Swapping the prototype of a live object changes its
 * hidden class, and V8's inline caches in Node's HTTP code and in Express then see two shapes of every
 * request. When the prototype already is the one asked for, setPrototypeOf changes nothing. Measured
 * on this VM, one JSON POST route under wrk: Express 0.31 ms of CPU per request as is, 0.14 ms with
 * these options (docs/decisions/express-prototypes.md).
 *
 * The two are subclasses, and their prototypes take the place of app.request and app.response. A
 * first version called Node's constructors on plain functions' `this` instead: V8 then laid each object
 * out for that function's empty body, Node's ~40 fields went out of line, and every response (and,
 * through it, every request) fell into slow dictionary mode (docs/decisions/express-prototypes.md). A subclass is
 * laid out for its base class's fields, as Node's own objects are.
 */
export function expressServerOptions(app: Express): http.ServerOptions {
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  app.request = adopt(Request.prototype, app.request) as typeof app.request;
  app.response = adopt(Response.prototype, app.response) as typeof app.response;
  return { IncomingMessage: Request, ServerResponse: Response as typeof http.ServerResponse };
}

/** Makes `proto` stand in for `current`: the same parent (Express's request or response) and own properties (`app`). */
function adopt(proto: object, current: object): unknown {
  Object.setPrototypeOf(proto, Object.getPrototypeOf(current));
  const { constructor: _, ...own } = Object.getOwnPropertyDescriptors(current);
  Object.defineProperties(proto, own);
  return proto;
}
