// The scaling-lab command line: parses argv with the program (program.ts) and turns thrown errors into a message,
// a hint and an exit code. The only layer that reads argv or exits.
import { readFileSync } from 'node:fs';
import { buildProgram, reportError } from './program.ts';
import { describeSystemError } from '../report/output.ts';

/** package.json's version: `scaling-lab --version`. */
const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

try {
  await buildProgram().version(VERSION, '-V, --version', 'print the version and exit').exitOverride().parseAsync(process.argv);
} catch (err) {
  // file-system and allocation errors are ordinary problems: one line and a hint, exit 2 (not a Node stack)
  const sys = describeSystemError(err);
  if (sys) {
    console.error(`error: ${sys.message}`);
    console.error(`hint: ${sys.hint}`);
    process.exitCode = 2;
  } else process.exitCode = reportError(err);
}
