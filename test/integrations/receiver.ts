/**
 * A real webhook receiver for tests: node:http on 127.0.0.1, a random port, and a behaviour per
 * path: answer 2xx / 500 / 410 / a redirect, hang until released (or until the client gives up),
 * reset the connection, answer only after the client has given up ("slow"), or hold the answer
 * until the test releases it. Every request is recorded with its headers and raw body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'status'; status: number; location?: string }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'slow' }
  | { kind: 'held' };

export const ok: Behaviour = { kind: 'status', status: 200 };
export const status = (code: number, location?: string): Behaviour => ({ kind: 'status', status: code, ...(location ? { location } : {}) });

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  port: number;
  url(path: string): string;
  set(path: string, behaviour: Behaviour): void;
  received(path: string): Received[];
  /** Resolves with the n-th (1-based) request to `path` once it has arrived (its body read). */
  arrival(path: string, n?: number): Promise<Received>;
  /** Answers 200 to the requests `path` holds (`held`). */
  release(path: string): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const behaviours = new Map<string, Behaviour>();
  const log: Received[] = [];
  const waiters: { path: string; n: number; resolve: (r: Received) => void }[] = [];
  const held = new Map<string, http.ServerResponse[]>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      const entry = { path, headers, body: Buffer.concat(chunks).toString('utf8') };
      log.push(entry);
      const count = log.filter((r) => r.path === path).length;
      for (const w of waiters.filter((x) => x.path === path && x.n === count)) w.resolve(entry);

      const b = behaviours.get(path) ?? ok;
      switch (b.kind) {
        case 'status':
          res.writeHead(b.status, b.location ? { location: b.location } : {});
          res.end('answer');
          return;
        case 'hang':
          return; // never answers; the client's deadline ends it
        case 'reset':
          req.socket.destroy();
          return;
        case 'slow':
          // Answers only once the client has given up waiting.
          res.on('close', () => {
            if (!res.writableEnded) res.writeHead(200).end('too late');
          });
          return;
        case 'held':
          held.set(path, [...(held.get(path) ?? []), res]);
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, behaviour) => void behaviours.set(path, behaviour),
    received: (path) => log.filter((r) => r.path === path),
    arrival(path, n = 1) {
      const got = log.filter((r) => r.path === path)[n - 1];
      if (got) return Promise.resolve(got);
      return new Promise((resolve) => waiters.push({ path, n, resolve }));
    },
    release(path) {
      for (const res of held.get(path) ?? []) if (!res.writableEnded) res.writeHead(200).end('released');
      held.delete(path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
