// A process that takes a run's lease and holds it: for the tests of "another live process holds it" and "its holder
// died". Usage: node --import tsx lease-holder.ts LOCATION RUN HOLDER [LEASE_MS]. Prints the lease as one JSON line,
// then holds it until stdin closes (or it is killed), and exits without releasing it.
import { openStore } from '../../src/store/store.ts';

const [location, id, holder, leaseMs] = process.argv.slice(2);
const store = await openStore(location!);
const lease = await store.acquireRun(id!, holder!, { leaseMs: leaseMs === undefined ? undefined : Number(leaseMs), takeOver: true });
process.stdout.write(JSON.stringify(lease) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
