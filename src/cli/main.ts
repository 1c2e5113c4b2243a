// The scaling-lab command line: parses argv with the program (program.ts) and turns thrown errors into a message,
// a hint and an exit code. The only layer that reads argv or exits.
import { buildProgram, reportError } from './program.ts';

try {
  await buildProgram().exitOverride().parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
