import { runLoad, type HttpRequest } from '../../bench/lib/http-load';
import { parseResponseHead, serializeRequest } from '../../bench/lib/http-wire';
import { jsonAnswer, recordingServer } from '../helpers/recording-server';

const numbered = () => {
  let seq = 0;
  return (): HttpRequest => ({
    method: 'POST',
    path: '/charge',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ requestId: `r-${seq++}` }),
  });
};

describe('the bench load generator', () => {
  it('answers every request it sends in closed loop and counts each status', async () => {
    const server = await recordingServer((n, _req, res) => jsonAnswer(res, n % 2 === 0 ? 402 : 201, { n }));
    try {
      const r = await runLoad({ url: server.url, connections: 4, seconds: 0.5, next: numbered() });
      expect(r.requests).toBeGreaterThan(10);
      expect(r.sent).toBe(r.requests);
      expect(r.requests).toBe(server.seen.length);
      expect((r.statuses['201'] ?? 0) + (r.statuses['402'] ?? 0)).toBe(r.requests);
      expect(Math.abs((r.statuses['201'] ?? 0) - (r.statuses['402'] ?? 0))).toBeLessThanOrEqual(1);
      expect(r.errors).toBe(r.statuses['402']);
      expect(r.errorKinds).toEqual({});
    } finally {
      await server.close();
    }
  });

  it('sends the body each call builds, so every request carries its own id', async () => {
    const server = await recordingServer((_n, _req, res) => jsonAnswer(res, 201, {}));
    try {
      const r = await runLoad({ url: server.url, connections: 3, seconds: 0.3, next: numbered() });
      const ids = server.seen.map((s) => JSON.parse(s.body).requestId);
      expect(new Set(ids).size).toBe(r.requests);
      expect(ids).toContain('r-0');
    } finally {
      await server.close();
    }
  });

  it('sends a chained follow-up on the answer to the first request', async () => {
    const server = await recordingServer((_n, req, res) => jsonAnswer(res, req.url === '/hold' ? 201 : 200, {}));
    let settled = 0;
    try {
      const r = await runLoad({
        url: server.url,
        connections: 2,
        seconds: 0.3,
        next: () => ({
          method: 'POST',
          path: '/hold',
          body: '{}',
          then: (status) =>
            status === 201 ? { method: 'POST', path: '/settle', body: '{}', then: () => void settled++ } : undefined,
        }),
      });
      expect(r.statuses['201']).toBe(settled);
      expect(r.statuses['200']).toBe(settled);
    } finally {
      await server.close();
    }
  });

  it('sends about rate × seconds requests when paced', async () => {
    const server = await recordingServer((_n, _req, res) => jsonAnswer(res, 201, {}));
    try {
      const r = await runLoad({ url: server.url, connections: 4, seconds: 1, rate: 200, next: numbered() });
      expect(r.requests + (r.unsent ?? 0)).toBeGreaterThan(150);
      expect(r.requests).toBeLessThanOrEqual(200);
      expect(server.seen.length).toBe(r.requests);
      expect(r.errors).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('counts a request as an error when the server drops its socket, and carries on', async () => {
    const server = await recordingServer((n, req, res) =>
      n % 3 === 0 ? req.socket.destroy() : jsonAnswer(res, 201, {}),
    );
    try {
      const r = await runLoad({ url: server.url, connections: 2, seconds: 0.5, next: numbered() });
      const lost = Object.values(r.errorKinds ?? {}).reduce((a, b) => a + b, 0);
      expect(lost).toBeGreaterThan(0);
      expect(r.errors).toBe(lost);
      expect(r.statuses['201']).toBe(r.requests);
      expect(r.sent).toBe(r.requests + lost);
      expect(server.seen.length).toBe(r.sent);
    } finally {
      await server.close();
    }
  });

  it('counts an answer it cannot frame (chunked) as an error instead of a status', async () => {
    const server = await recordingServer((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      res.end('rest');
    });
    try {
      const r = await runLoad({ url: server.url, connections: 1, seconds: 0.2, next: numbered() });
      expect(r.requests).toBe(0);
      expect(Object.keys(r.errorKinds ?? {})).toContain('unsupported transfer-encoding chunked');
      expect(r.errors).toBe(r.sent);
    } finally {
      await server.close();
    }
  });

  it('keeps an answer that says Connection: close and reconnects for the next', async () => {
    const server = await recordingServer((_n, _req, res) => {
      res.shouldKeepAlive = false;
      jsonAnswer(res, 201, {});
    });
    try {
      const r = await runLoad({ url: server.url, connections: 2, seconds: 0.3, next: numbered() });
      expect(r.requests).toBeGreaterThan(2);
      expect(r.errors).toBe(0);
      expect(r.sent).toBe(r.requests);
    } finally {
      await server.close();
    }
  });

  it('writes a request as one message with its length, and reads the length and status back', () => {
    const wire = serializeRequest({ method: 'POST', path: '/v1/x', headers: { a: 'b' }, body: '{"é":1}' }, 'h:1');
    expect(wire).toBe('POST /v1/x HTTP/1.1\r\nHost: h:1\r\na: b\r\nContent-Length: 8\r\n\r\n{"é":1}');
    expect(parseResponseHead('HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 12')).toEqual({
      status: 201,
      bodyLength: 12,
      close: false,
    });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0')).toEqual({
      status: 200,
      bodyLength: 0,
      close: true,
    });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Type: text/plain')).toEqual({ error: 'no content-length' });
    expect(parseResponseHead('garbage')).toEqual({ error: 'bad status line' });
  });
});
