// `npm run testenv -- up [--profile base|workloads] [--apiserver-port N]`:
// starts the test environment and keeps it up until Ctrl-C, printing how to
// reach each server.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterProfile } from './cluster.js';
import { TestEnv } from './env.js';
import { TestEnvError } from './process.js';

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      profile: { type: 'string', default: 'workloads' },
      'apiserver-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'up') {
    console.log(
      'usage: testenv up [--profile base|workloads] [--apiserver-port N]\n\n' +
        'Starts etcd + kube-apiserver (+ controller-manager, scheduler, kwok for workloads),\n' +
        'the moto AWS emulator and a git http-backend server on loopback until Ctrl-C.',
    );
    process.exit(values.help ? 0 : 2);
  }
  const profile = values.profile as ClusterProfile;
  if (profile !== 'base' && profile !== 'workloads') {
    throw new TestEnvError(`--profile must be base or workloads, not ${profile}`);
  }
  const started = Date.now();
  const env = await TestEnv.start({
    profile,
    keep: false,
    ports: values['apiserver-port'] ? { apiserver: Number(values['apiserver-port']) } : undefined,
  });
  const stateDir = path.resolve('.driftless');
  await mkdir(stateDir, { recursive: true });
  const stateFile = path.join(stateDir, 'testenv.json');
  await writeFile(stateFile, JSON.stringify(env.info, null, 2));
  const { kube, aws, git } = env.info;
  console.log(`Local environment up in ${((Date.now() - started) / 1000).toFixed(1)}s (profile ${profile}).

  Kubernetes   ${kube.server}
               export KUBECONFIG=${kube.kubeconfig}
  AWS (moto)   ${aws.endpoint}  (region ${aws.region}, any credentials)
  Git server   ${git.baseUrl}/<repo>.git  serving bare repositories in ${git.root}
  Logs         ${kube.logDir}
  State        ${stateFile}

Press Ctrl-C to stop.`);
  const shutdown = async () => {
    console.log('\nstopping…');
    await env.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
