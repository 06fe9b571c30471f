/**
 * The little HTTP/1.1 the load generator speaks: one request serialised into one string (one socket
 * write), and the head of an answer. It reads bodies framed by Content-Length only, which is how the
 * service answers JSON (Express 5 `res.json`/`res.send` set it); anything else is reported as an error
 * rather than guessed at, so a miscounted answer can never pass as a good one.
 */

export interface HttpRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * Called with the answer; may return the request to send next on the same connection, so a
   * scenario can chain two calls that belong together (reserve, then settle the same requestId).
   */
  then?: (status: number, body: Buffer) => HttpRequest | undefined;
}

export function serializeRequest(r: HttpRequest, host: string): string {
  if (r.method === 'HEAD') throw new Error('HEAD is not supported: its answer announces a body it does not send');
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const name in r.headers) head += `${name}: ${r.headers[name]}\r\n`;
  const body = r.body ?? '';
  if (body.length > 0 || r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH') {
    head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  }
  return `${head}\r\n${body}`;
}

export type ResponseHead = { status: number; bodyLength: number; close: boolean } | { error: string };

/** `head` is everything before the blank line, decoded as latin1. */
export function parseResponseHead(head: string): ResponseHead {
  const http10 = head.startsWith('HTTP/1.0 ');
  if (!http10 && !head.startsWith('HTTP/1.1 ')) return { error: 'bad status line' };
  const status = Number(head.slice(9, 12));
  if (!Number.isInteger(status) || status < 200 || status > 599)
    return { error: `unsupported status ${head.slice(9, 12)}` };
  let bodyLength: number | undefined;
  let close = http10;
  let lineStart = head.indexOf('\r\n');
  while (lineStart >= 0) {
    const lineEnd = head.indexOf('\r\n', lineStart + 2);
    const line = head.slice(lineStart + 2, lineEnd < 0 ? head.length : lineEnd);
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: 'bad header line' };
    const name = line.slice(0, colon).toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (bodyLength !== undefined && bodyLength !== Number(value)))
        return { error: 'bad content-length' };
      bodyLength = Number(value);
    } else if (name === 'transfer-encoding') return { error: `unsupported transfer-encoding ${value}` };
    else if (name === 'connection') close = value.split(',').some((t) => t.trim() === 'close');
    lineStart = lineEnd;
  }
  if (status === 204 || status === 304) bodyLength = 0; // never carry a body (RFC 9112 §6.3)
  if (bodyLength === undefined) return { error: 'no content-length' };
  return { status, bodyLength, close };
}
