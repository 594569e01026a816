/**
 * The local runtime's admission (local/server.ts): at most `max` requests run at once, the others
 * start in arrival order, and a request whose client left while it waited never runs. No table,
 * no timers: a stand-in router whose answers the test releases.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingRequest } from '#local/api-gateway-event.ts';
import type { LocalResponse } from '#local/router.ts';
import { createAdmission, startHttpServer } from '#local/server.ts';

describe('admission', () => {
  it('lets `max` in at once and the others in arrival order, each as one leaves', async () => {
    const admission = createAdmission(2);
    const order: string[] = [];
    const enter = (name: string) => admission.enter().then(() => order.push(name));
    await Promise.all([enter('a'), enter('b')]);
    const waiting = [enter('c'), enter('d'), enter('e')];
    await Promise.resolve();
    expect(order).toEqual(['a', 'b']);
    expect(admission.waiting).toBe(3);
    admission.leave();
    await waiting[0];
    expect(order).toEqual(['a', 'b', 'c']);
    admission.leave();
    admission.leave();
    await Promise.all(waiting);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    // d and e leave: two places free again, nobody waits.
    admission.leave();
    admission.leave();
    await Promise.all([enter('f'), enter('g')]);
    expect(order.slice(5)).toEqual(['f', 'g']);
    expect(admission.waiting).toBe(0);
  });
});

type Server = Awaited<ReturnType<typeof startHttpServer>>;
let server: Server | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A GET on its own connection; `abort` makes the client leave. */
function get(url: string): { answer: Promise<string>; abort: () => void } {
  const req = http.get(url, { agent: false });
  const answer = new Promise<string>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
  return { answer, abort: () => req.destroy() };
}

/** Until `done()` holds: waits on the event loop (I/O), not on a clock. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}

describe('the HTTP server', () => {
  it('never runs a request whose client left while it waited for its turn', async () => {
    const started: string[] = [];
    let releaseFirst: (() => void) | undefined;
    const route = async (req: IncomingRequest): Promise<LocalResponse> => {
      const name = req.url.slice(1);
      started.push(name);
      if (name === 'a') await new Promise<void>((r) => (releaseFirst = r));
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: name };
    };
    const lines: string[] = [];
    const admission = createAdmission(1);
    server = await startHttpServer(route, { port: 0, host: '127.0.0.1', admission, log: (l) => lines.push(l) });
    const a = get(`${server.url}/a`);
    await until(() => releaseFirst !== undefined);
    const b = get(`${server.url}/b`);
    await until(() => admission.waiting === 1);
    b.abort();
    await expect(b.answer).rejects.toThrow();
    await until(() => admission.waiting === 0); // the server saw b's client leave
    releaseFirst!();
    expect(await a.answer).toBe('a');
    const c = get(`${server.url}/c`);
    expect(await c.answer).toBe('c');
    expect(started).toEqual(['a', 'c']);
    expect(lines.filter((l) => l.startsWith('GET /b '))).toEqual([expect.stringMatching(/^GET \/b dropped: the client left/)]);
  });
});
