// An HTTPS proxy on loopback in front of the real API server whose aggregated
// discovery lags behind a CRD, as a real server's can just after the CRD is
// Established (its discovery learns of the new group a moment later): the
// first `lag` answers to `/apis` that list the group are sent without it.
// Everything else — the CRD, its Established condition, the objects, every
// other answer — is the real server's, forwarded with the test's own client
// certificate (the proxy serves the API server's certificate, so the client's
// trust is unchanged). The lag is counted in answers, not time.

import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll } from 'vitest';
import { kubeconfigAccess } from '../../lib/kube/kubeconfig.js';
import { testenv } from './env.js';

export interface LaggingDiscovery {
  /** https://127.0.0.1:<port> */
  server: string;
  /** `/apis` answers sent without the group (at most `lag`). */
  readonly hidden: number;
}

interface GroupList {
  items?: { metadata?: { name?: string } }[];
}

/** Starts the proxy; closed after the file's tests. */
export async function laggingDiscovery(group: string, lag: number): Promise<LaggingDiscovery> {
  const pki = path.dirname(testenv().kube.caCert);
  const [cert, key] = await Promise.all([
    readFile(path.join(pki, 'apiserver.crt')),
    readFile(path.join(pki, 'apiserver.key')),
  ]);
  const access = await kubeconfigAccess(testenv().kube.kubeconfig);
  const creds = await access.credentials();
  const upstream = new URL(access.server);
  const agent = new https.Agent({
    ca: access.ca,
    cert: creds.cert,
    key: creds.key,
    keepAlive: true,
  });
  let hidden = 0;
  const server = https.createServer({ cert, key }, (req, res) => {
    const out = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host, 'accept-encoding': 'identity' },
        agent,
      },
      (answer) => {
        const isGroups = req.method === 'GET' && req.url?.split('?')[0] === '/apis';
        if (!isGroups || hidden >= lag || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          let body = Buffer.concat(chunks);
          const doc = JSON.parse(body.toString('utf8')) as GroupList;
          const items = doc.items ?? [];
          if (items.some((g) => g.metadata?.name === group)) {
            hidden++;
            doc.items = items.filter((g) => g.metadata?.name !== group);
            body = Buffer.from(JSON.stringify(doc));
          }
          const headers = { ...answer.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(200, headers);
          res.end(body);
        });
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  return {
    server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get hidden() {
      return hidden;
    },
  };
}
