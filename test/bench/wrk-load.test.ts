import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runWrk } from '../../bench/lib/wrk-load';
import { describeWithTool } from '../helpers/tools';
import { jsonAnswer, recordingServer } from '../helpers/recording-server';

/** Answers each request with the status the test picks and a body built from the request's. */
const localServer = (status: (n: number) => number, answer: (body: string) => string = () => '{}') =>
  recordingServer((n, _req, res, body) => jsonAnswer(res, status(n), answer(body)));

const listFile = (lines: string[]) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrk-test-'));
  fs.writeFileSync(path.join(dir, 'list.txt'), lines.join('\n') + '\n');
  return path.join(dir, 'list.txt');
};

describeWithTool('wrk', 'wrk', 'the bench wrk runner (bench/wrk/requests.lua)', () => {
  it('sends first charges, each with its own requestId, on wallets in range, and counts each status', async () => {
    const server = await localServer((n) => (n % 3 === 0 ? 402 : 201));
    try {
      const r = await runWrk({
        url: server.url,
        connections: 4,
        seconds: 1,
        args: ['charge', 'tok-gw', 'run-spread-', '50', '0'],
      });
      const bodies = server.seen.map((s) => JSON.parse(s.body));
      expect(r.requests).toBeGreaterThan(20);
      expect(
        server.seen.every(
          (s) => s.method === 'POST' && s.url === '/v1/usage/reconcile' && s.authorization === 'Bearer tok-gw',
        ),
      ).toBe(true);
      expect(new Set(bodies.map((b) => b.requestId)).size).toBe(bodies.length);
      expect(
        bodies.every((b) => b.requestId.startsWith('run-spread-') && /^bench-([1-9]|[1-4]\d|50)$/.test(b.userId)),
      ).toBe(true);
      expect(new Set(bodies.map((b) => b.userId)).size).toBeGreaterThan(10);
      expect(bodies[0]).toMatchObject({ model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50 });
      // wrk counts answers, the server counts requests: at most one per connection unanswered at the deadline
      expect(r.statuses['201'] + r.statuses['402']).toBe(r.requests);
      expect(server.seen.length - r.requests).toBeLessThanOrEqual(4);
      expect(r.errors).toBe(r.statuses['402']);
      expect(r.p50).toBeGreaterThan(0);
      expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    } finally {
      await server.close();
    }
  });

  it('reports the requestId of every 201 answer, and of no other', async () => {
    const echo = (body: string) => JSON.stringify({ requestId: JSON.parse(body).requestId, credits: '0.18' });
    const server = await localServer((n) => (n % 4 === 0 ? 402 : 201), echo);
    try {
      const r = await runWrk({
        url: server.url,
        connections: 4,
        seconds: 1,
        answeredIds: true,
        args: ['charge', 'tok', 'run-ids-', '50', '0'],
      });
      const sent = server.seen.map((s) => JSON.parse(s.body).requestId as string);
      const refused = new Set(sent.filter((_, i) => (i + 1) % 4 === 0));
      expect(r.answeredIds).toHaveLength(r.statuses['201']);
      expect(new Set(r.answeredIds).size).toBe(r.answeredIds!.length);
      expect(r.answeredIds!.every((id) => sent.includes(id) && !refused.has(id))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('puts every charge on wallet 1 when hot', async () => {
    const server = await localServer(() => 201);
    try {
      await runWrk({ url: server.url, connections: 2, seconds: 1, args: ['charge', 'tok', 'run-hot-', '50', '1'] });
      expect(new Set(server.seen.map((s) => JSON.parse(s.body).userId))).toEqual(new Set(['bench-1']));
    } finally {
      await server.close();
    }
  });

  it('replays only the charged requests it was given', async () => {
    const server = await localServer(() => 200);
    const file = listFile(['bench-7 run-a-1', 'bench-9 run-a-2', 'bench-3 run-a-3']);
    try {
      const r = await runWrk({ url: server.url, connections: 2, seconds: 1, args: ['replay', 'tok', file] });
      const pairs = new Set(server.seen.map((s) => JSON.parse(s.body)).map((b) => `${b.userId} ${b.requestId}`));
      expect(pairs).toEqual(new Set(['bench-7 run-a-1', 'bench-9 run-a-2', 'bench-3 run-a-3']));
      expect(r.statuses).toEqual({ '200': r.requests });
      expect(r.errors).toBe(0);
    } finally {
      await server.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('reads balances with each user token in turn', async () => {
    const server = await localServer(() => 200);
    const file = listFile(['tok-u1', 'tok-u2']);
    try {
      await runWrk({ url: server.url, connections: 2, seconds: 1, args: ['balance', file] });
      expect(server.seen.every((s) => s.method === 'GET' && s.url === '/v1/balance')).toBe(true);
      expect(new Set(server.seen.map((s) => s.authorization))).toEqual(new Set(['Bearer tok-u1', 'Bearer tok-u2']));
    } finally {
      await server.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('settles each granted hold with the same user and requestId, and counts the settles answered 201', async () => {
    // every 5th hold is refused; a granted hold answers like the API (a holdId), a settle with a usageId
    const granted = new Set<string>();
    const server = await recordingServer((n, req, res, body) => {
      const { userId, requestId } = JSON.parse(body);
      if (req.url === '/v1/usage/reconcile') return jsonAnswer(res, 201, { usageId: `u-${n}`, userId, requestId });
      if (n % 5 === 0) return jsonAnswer(res, 402, { type: 'about:blank', status: 402 });
      granted.add(`${userId} ${requestId}`);
      jsonAnswer(res, 201, { holdId: `h-${n}`, requestId, userId });
    });
    try {
      const r = await runWrk({ url: server.url, connections: 4, seconds: 1, args: ['holds', 'tok', 'run-h-', '50'] });
      const bodies = server.seen.map((s) => ({ url: s.url, ...JSON.parse(s.body) }));
      const holds = bodies.filter((b) => b.url === '/v1/usage/holds');
      const settles = bodies.filter((b) => b.url === '/v1/usage/reconcile').map((b) => `${b.userId} ${b.requestId}`);
      expect(holds.length).toBeGreaterThan(10);
      expect(holds[0]).toMatchObject({ model: 'gpt-4o-mini', maxInputTokens: 200, maxOutputTokens: 100 });
      expect(bodies.find((b) => b.url === '/v1/usage/reconcile')).toMatchObject({ inputTokens: 100, outputTokens: 50 });
      expect(settles.every((pair) => granted.has(pair))).toBe(true);
      expect(new Set(settles).size).toBe(settles.length);
      // a hold granted just before the deadline may lose its settle, and a settle its answer: one per connection
      expect(granted.size - settles.length).toBeLessThanOrEqual(4);
      expect(settles.length - r.settled!).toBeGreaterThanOrEqual(0);
      expect(settles.length - r.settled!).toBeLessThanOrEqual(4);
    } finally {
      await server.close();
    }
  });

  it('sends each signed webhook event once, with its own signature, split between the threads', async () => {
    const server = await localServer(() => 200);
    const events = Array.from({ length: 100_000 }, (_, i) => `t=1,v1=sig${i} {"id":"evt_${i}"}`);
    const file = listFile(events);
    try {
      const r = await runWrk({ url: server.url, connections: 4, seconds: 1, args: ['webhook', file] });
      const sent = server.seen.map((s) => `${s.headers['stripe-signature']} ${s.body}`);
      expect(server.seen.every((s) => s.method === 'POST' && s.url === '/v1/webhooks/stripe')).toBe(true);
      expect(sent.length).toBeGreaterThan(20);
      const written = new Set(events);
      expect(sent.every((line) => written.has(line))).toBe(true);
      expect(new Set(sent).size).toBe(sent.length);
      // the server may not have read the last request of each connection when wrk stops
      expect(r.distinctSent! - sent.length).toBeGreaterThanOrEqual(0);
      expect(r.distinctSent! - sent.length).toBeLessThanOrEqual(4);
      expect(r.statuses).toEqual({ '200': r.requests });
    } finally {
      await server.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
