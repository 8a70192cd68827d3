// The benchmark's Git server (scripts/testenv GitServer: git http-backend on
// loopback) in a process of its own, so that serving packs does not share an
// event loop with the Driftless reconciles being timed. Prints its info as one
// JSON line, and stops when its parent closes stdin (or dies).
//   git-server.ts <root> <http-backend>

import { GitServer } from '../scripts/testenv/gitserver.js';

const [root, httpBackend] = process.argv.slice(2);
if (!root || !httpBackend) {
  console.error('usage: git-server.ts <root> <http-backend>');
  process.exit(2);
}
const server = await GitServer.start({
  root,
  httpBackend,
  username: 'driftless',
  password: `bench-${process.pid}`,
});
process.stdout.write(`${JSON.stringify(server.info)}\n`);
const stop = () => {
  server.stop().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
