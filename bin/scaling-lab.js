#!/usr/bin/env node
// The `scaling-lab` command. The sources are TypeScript run through tsx, so there is no build step
// to forget: what is in src/ is what runs.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
