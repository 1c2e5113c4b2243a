// Test-only fault injection, preloaded into `scaling-lab worker` processes through NODE_OPTIONS (see startCluster's
// `crashes`): inside a trainer child (worker-entry.ts) the process exits with code 1 when its run reports a step
// >= SCALING_LAB_TEST_CRASH_STEP, as long as the counter file SCALING_LAB_TEST_CRASHES holds a number > 0 (one crash
// spends one). Plain JS, so it loads before tsx does; nothing in src/ knows about it.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.SCALING_LAB_TEST_CRASHES;
const atStep = Number(process.env.SCALING_LAB_TEST_CRASH_STEP ?? 3);
if (file && process.argv[1]?.endsWith('worker-entry.ts') && process.send) {
  const send = process.send.bind(process);
  process.send = (message, ...rest) => {
    if (message?.type === 'step' && message.step >= atStep) {
      const left = Number(readFileSync(file, 'utf8'));
      if (left > 0) {
        writeFileSync(file, String(left - 1));
        process.exit(1);
      }
    }
    return send(message, ...rest);
  };
}
