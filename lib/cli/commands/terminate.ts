// driftless terminate APP [--cluster C]: end the running operation; its
// SyncFail hooks run and it ends Failed (reason Terminated).

import type { TerminateResponse } from '../../api/contract.js';
import { arg, type Command, type CommandContext } from '../command.js';
import { emit } from '../output.js';

export const terminate: Command = {
  name: 'terminate',
  async run(ctx: CommandContext): Promise<number> {
    const name = arg(ctx.args, 0, 'application name');
    const res = await ctx
      .client()
      .request<TerminateResponse>('POST', `/apps/${name}/terminate`, undefined, {
        cluster: ctx.flags.cluster,
      });
    emit(
      ctx.p,
      res,
      ['CLUSTER', 'OPERATION', 'STATE'],
      [
        ...res.terminated.map((t) => [t.cluster, t.operationId, 'terminating']),
        ...res.notRunning.map((c) => [c, '', 'no operation running']),
      ],
    );
    return 0;
  },
};
