import { runWrkPaced } from '../../bench/lib/wrk-load';
import { describeWithTool } from '../helpers/tools';
import { jsonAnswer, recordingServer } from '../helpers/recording-server';

const pace = { token: 'tok-gw', requestIdPrefix: 'run-paced-', wallets: 50 };

describeWithTool('wrk', 'wrk', 'paced charges through wrk (bench/wrk/paced.lua)', () => {
  // The counts are checked against what the server saw, never against the clock: on a busy
  // machine fewer charges leave in time (counted as unsent), and that is not what these tests are about.
  it('sends at most rate × seconds charges, each with its own requestId, on wallets in range; counted', async () => {
    const server = await recordingServer((n, _req, res) => jsonAnswer(res, n % 4 === 0 ? 402 : 201));
    try {
      const r = await runWrkPaced({ ...pace, url: server.url, connections: 4, seconds: 1, rate: 200 });
      const bodies = server.seen.map((s) => JSON.parse(s.body));
      const { sent = 0, unsent = 0 } = r;
      expect(sent + unsent).toBe(200);
      expect(r.sent).toBeGreaterThan(0);
      expect(r.requests).toBe(r.sent);
      expect(server.seen).toHaveLength(sent);
      expect(server.seen.every((s) => s.url === '/v1/usage/reconcile' && s.authorization === 'Bearer tok-gw')).toBe(
        true,
      );
      expect(new Set(bodies.map((b) => b.requestId)).size).toBe(sent);
      expect(
        bodies.every((b) => b.requestId.startsWith('run-paced-') && /^bench-([1-9]|[1-4]\d|50)$/.test(b.userId)),
      ).toBe(true);
      expect(bodies[0]).toEqual({
        userId: bodies[0].userId,
        requestId: 'run-paced-0',
        model: 'gpt-4o-mini',
        inputTokens: 100,
        outputTokens: 50,
      });
      const refused = server.seen.filter((_s, i) => (i + 1) % 4 === 0).length; // n counts from 1
      expect(r.statuses).toEqual({ '201': sent - refused, ...(refused ? { '402': refused } : {}) });
      expect(r.errors).toBe(refused);
    } finally {
      await server.close();
    }
  });

  it('counts latency from the due time, so the requests that wait out a stall show in the percentiles', async () => {
    // one connection; the 20th answer comes 300 ms late, so the ~30 requests due meanwhile wait for it
    const echo = (body: string) => ({ requestId: JSON.parse(body).requestId });
    const server = await recordingServer((n, _req, res, body) =>
      n === 20 ? setTimeout(() => jsonAnswer(res, 201, echo(body)), 300) : jsonAnswer(res, 201, echo(body)),
    );
    try {
      const r = await runWrkPaced({ ...pace, url: server.url, connections: 1, seconds: 1, rate: 100 });
      expect(r.requests).toBe(r.sent);
      // Lower bounds only: counted from the send time instead, the stall would show in one answer.
      expect(r.p95).toBeGreaterThan(200);
      expect(r.p99).toBeGreaterThan(250);
    } finally {
      await server.close();
    }
  });

  it('waits at the deadline for the answers still on their way', async () => {
    const server = await recordingServer((_n, _req, res) => setTimeout(() => jsonAnswer(res, 201), 150));
    try {
      const r = await runWrkPaced({ ...pace, url: server.url, connections: 2, seconds: 0.5, rate: 10 });
      expect(r.sent).toBeGreaterThan(0);
      expect(r.requests).toBe(r.sent);
      expect(r.errors).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('counts an answer that does not come within the grace period as unanswered, an error', async () => {
    const server = await recordingServer((n, _req, res) => (n === 3 ? undefined : jsonAnswer(res, 201)));
    try {
      const r = await runWrkPaced({
        ...pace,
        url: server.url,
        connections: 2,
        seconds: 0.5,
        rate: 20,
        graceSeconds: 1,
      });
      expect(r.sent).toBe(server.seen.length);
      expect(r.requests).toBe(r.sent! - 1);
      expect(r.errorKinds).toEqual({ unanswered: 1 });
      expect(r.errors).toBe(1);
    } finally {
      await server.close();
    }
  });
});
