// A TCP proxy on loopback in front of the real API server that misbehaves for
// the first connections as a load balancer or a restarting server does: it
// resets them, or answers a 5xx (500 InternalError, 502, 503, 504) over TLS (with the API server's own serving
// certificate, so the client's trust is unchanged) and closes. Later
// connections are piped to the real server untouched: the system under test
// is still the real API server. `stop` and `start` take the proxy's port down
// and up again, as an API server that is stopped and restarted (connections
// refused meanwhile), without touching the shared API server.

import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll } from 'vitest';
import { testenv } from './env.js';

export type ConnectionFault = 'reset' | '500' | '502' | '503' | '504' | 'pass';

/** What a load balancer or a struggling API server answers, by status. */
const ANSWERS: Record<string, { text: string; reason: string; message: string }> = {
  '500': {
    text: 'Internal Server Error',
    reason: 'InternalError',
    message: 'Internal error occurred: etcdserver: request timed out',
  },
  '502': { text: 'Bad Gateway', reason: 'BadGateway', message: 'upstream connect error' },
  '503': {
    text: 'Service Unavailable',
    reason: 'ServiceUnavailable',
    message: 'upstream connect error',
  },
  '504': { text: 'Gateway Timeout', reason: 'Timeout', message: 'upstream request timeout' },
};

export interface FlakyProxy {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Connections accepted, by what the proxy did with them. */
  readonly seen: ConnectionFault[];
  /** Ends every open connection (kept-alive ones included), so the next request opens a new one. */
  dropConnections(): void;
  /** Stops listening and ends every connection: connections to the port are refused. */
  stop(): Promise<void>;
  /** Listens on the same port again. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy: connection i (from 0) gets `plan(i)`. Closed after the file's tests. */
export async function flakyProxy(plan: (i: number) => ConnectionFault): Promise<FlakyProxy> {
  const target = new URL(testenv().kube.server);
  const pki = path.dirname(testenv().kube.caCert);
  const [cert, key] = await Promise.all([
    readFile(path.join(pki, 'apiserver.crt')),
    readFile(path.join(pki, 'apiserver.key')),
  ]);
  const seen: ConnectionFault[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const fault = plan(seen.length);
    seen.push(fault);
    if (fault === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    const answer = ANSWERS[fault];
    if (answer) {
      const secure = new tls.TLSSocket(socket, { isServer: true, cert, key });
      secure.on('error', () => {});
      let head = '';
      secure.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const body = JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: answer.message,
          reason: answer.reason,
          code: Number(fault),
        });
        secure.end(
          `HTTP/1.1 ${fault} ${answer.text}\r\ncontent-type: application/json\r\n` +
            `connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      });
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dropConnections = () => {
    for (const s of sockets) s.destroy();
  };
  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    dropConnections();
    await closed;
  };
  const start = async () => {
    if (server.listening) return;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  };
  afterAll(() => stop().catch(() => {}));
  return { server: `https://127.0.0.1:${port}`, seen, dropConnections, stop, start, close: stop };
}
