// driftless suspend APP | resume APP: stop or restart automated syncs.

import type { SuspendResponse } from '../../api/contract.js';
import { arg, type Command, type CommandContext } from '../command.js';

function suspendOrResume(verb: 'suspend' | 'resume'): Command {
  return {
    name: verb,
    async run(ctx: CommandContext): Promise<number> {
      const name = arg(ctx.args, 0, 'application name');
      await ctx.client().request<SuspendResponse>('POST', `/apps/${name}/${verb}`);
      ctx.p.out(`${name} ${verb === 'suspend' ? 'suspended: no automated syncs' : 'resumed'}`);
      return 0;
    },
  };
}

export const suspend = suspendOrResume('suspend');
export const resume = suspendOrResume('resume');
