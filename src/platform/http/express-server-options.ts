import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

type Constructor = new (...args: never[]) => unknown;
const isClass = (f: Constructor) => /^class\b/.test(Function.prototype.toString.call(f));

/**
 * Options for http.createServer under which Node builds every request and response on the app's own
 * Express prototypes (app.request, app.response) from the start.
 *
 * Why: Express's app.handle gives each request and response those prototypes with
 * Object.setPrototypeOf, after Node has built them. Swapping the prototype of a live object changes its
 * hidden class, and V8's inline caches in Node's HTTP code and in Express then see two shapes of every
 * request. When the prototype already is the one asked for, setPrototypeOf changes nothing. Measured
 * on this VM, one JSON POST route under wrk: Express 0.31 ms of CPU per request as is, 0.14 ms with
 * these options (README, "Fifth session").
 *
 * Node documents the two options for extending its classes. Its IncomingMessage and ServerResponse are
 * plain constructor functions, which are initialised on `this` here; should a Node release make them
 * ES classes (not callable that way), the options are left out and Express swaps prototypes as before.
 */
export function expressServerOptions(app: Express): http.ServerOptions {
  if (isClass(http.IncomingMessage as Constructor) || isClass(http.ServerResponse as Constructor)) return {};
  const BaseRequest = http.IncomingMessage as unknown as (this: unknown, socket: Socket) => void;
  const BaseResponse = http.ServerResponse as unknown as (this: unknown, req: http.IncomingMessage, options?: object) => void;

  function Request(this: unknown, socket: Socket) {
    BaseRequest.call(this, socket);
  }
  Request.prototype = app.request;
  function Response(this: unknown, req: http.IncomingMessage, options?: object) {
    BaseResponse.call(this, req, options);
  }
  Response.prototype = app.response;
  return {
    IncomingMessage: Request as unknown as typeof http.IncomingMessage,
    ServerResponse: Response as unknown as typeof http.ServerResponse,
  };
}
