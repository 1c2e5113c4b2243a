// Both executors through the one suite (executor-suite.ts): the local process pool on a file store, and the BullMQ
// queue with two `scaling-lab worker` processes on real Redis and PostgreSQL (skipped with the reason where absent).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalExecutor } from '../../src/sweep/local.ts';
import { createQueueExecutor } from '../../src/sweep/queue.ts';
import { isSkip } from '../helpers/services.ts';
import { defineExecutorSuite } from './executor-suite.ts';
import { startCluster, tmp } from './fixtures.ts';

defineExecutorSuite('local executor', async () => ({
  executor: createLocalExecutor({ workers: 2 }),
  store: mkdtempSync(join(tmp, 'local-')),
  stop: async () => {},
}));

defineExecutorSuite('queue executor', async () => {
  const cluster = await startCluster(2);
  if (isSkip(cluster)) return cluster;
  return { executor: createQueueExecutor({ url: cluster.redisUrl, pollMs: 200, backoffMs: 200 }), store: cluster.pgUrl, stop: () => cluster.stop() };
});
