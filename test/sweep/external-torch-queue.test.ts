// Issue 17 item 4 through the queue executor: the tiny PyTorch scan on real Redis + PostgreSQL with two `scaling-lab
// worker` processes, one run killed by SIGKILL mid-way; no row lost or duplicated; bcrit on the store. Needs torch.
import { it } from 'node:test';
import { createQueueExecutor } from '../../src/sweep/queue.ts';
import { isSkip } from '../helpers/services.ts';
import { needs, skipOrFail } from '../helpers/require.ts';
import { torchMissing, torchSweepEndToEnd } from './external-torch.ts';
import { startCluster } from './fixtures.ts';

it('queue executor: the tiny torch scan completes with one run SIGKILLed, every row once, on Redis + PostgreSQL', async (t) => {
  if (!needs(t, 'torch', torchMissing)) return;
  const cluster = await startCluster(2);
  if (isSkip(cluster)) return skipOrFail(t, cluster);
  try {
    await torchSweepEndToEnd(createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }), cluster.pgUrl, 'queue');
  } finally {
    await cluster.stop();
  }
});
