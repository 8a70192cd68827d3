// Certificates for the test control plane, made with the openssl CLI: a CA, the
// API server's serving certificate, client certificates (the admin is in
// system:masters; components get their own identities), and the service-account
// signing key pair.

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestEnvError } from './process.js';

const exec = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await exec('openssl', args, { cwd });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new TestEnvError(
      `openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}. Is openssl installed?`,
    );
  }
}

export interface ClientCert {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  client(name: string): ClientCert;
}

/** Creates the PKI in `dir`; `clients` maps file stem → [common name, organization]. */
export async function createPki(
  dir: string,
  clients: Record<string, [cn: string, org?: string]>,
): Promise<ClusterPki> {
  const p = (f: string) => path.join(dir, f);
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-subj',
      '/CN=driftless-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
  const sign = async (stem: string, subj: string, ext: string) => {
    await openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${stem}.key`,
        '-out',
        `${stem}.csr`,
        '-subj',
        subj,
      ],
      dir,
    );
    await writeFile(p(`${stem}.ext`), ext);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${stem}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '3650',
        '-out',
        `${stem}.crt`,
        '-extfile',
        `${stem}.ext`,
      ],
      dir,
    );
  };
  await sign(
    'apiserver',
    '/CN=kube-apiserver',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
      'extendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,' +
      'DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n',
  );
  for (const [stem, [cn, org]] of Object.entries(clients)) {
    await sign(
      stem,
      `${org ? `/O=${org}` : ''}/CN=${cn}`,
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
        'extendedKeyUsage=clientAuth\n',
    );
  }
  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
    client: (name) => {
      if (!clients[name]) throw new TestEnvError(`no client certificate named ${name}`);
      return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
    },
  };
}
