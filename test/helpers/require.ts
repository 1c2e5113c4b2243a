// What a missing component does to the tests that need it. A local `npm test` skips them with the reason; with
// SCALING_LAB_REQUIRE naming the component (`.ci/run` names them all) they FAIL, naming the component and the
// Debian package or command that provides it, so CI cannot be green with a main path untested.
//
//   SCALING_LAB_REQUIRE=native,postgres,redis,chromium,python,torch   (or `all`)
//
// Every test that skips for a missing component goes through here: `return skipOrFail(t, skip)` with a Skip from
// services.ts, or `if (!needs(t, 'python', whyNot)) return;` with a reason string (undefined: it is there).
import assert from 'node:assert/strict';

export const COMPONENTS = ['native', 'postgres', 'redis', 'chromium', 'python', 'torch'] as const;
export type Component = (typeof COMPONENTS)[number];

/** How to provide each component on Debian (what `.ci/run` installs). */
export const FIX: Record<Component, string> = {
  native: 'the native addon: install the Debian packages build-essential and python3 (for node-gyp), then run `node scripts/build-native.mjs`',
  postgres: 'install the Debian package postgresql (apt-get install postgresql)',
  redis: 'install the Debian package redis-server (apt-get install redis-server)',
  chromium: 'install the Debian package chromium (apt-get install chromium) so /usr/bin/chromium exists',
  python: 'install the Debian package python3-scipy (apt-get install python3-scipy python3-numpy) for /usr/bin/python3',
  torch: 'install the Debian packages python3-torch and libopenblas0-pthread (apt-get install python3-torch libopenblas0-pthread) for /usr/bin/python3',
};

/** The components SCALING_LAB_REQUIRE names (`all`: every one). An unknown name is an error, not silently ignored. */
export function requiredComponents(value = process.env.SCALING_LAB_REQUIRE ?? ''): Set<Component> {
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  const out = new Set<Component>();
  for (const name of names) {
    if (name === 'all') COMPONENTS.forEach((c) => out.add(c));
    else if ((COMPONENTS as readonly string[]).includes(name)) out.add(name as Component);
    else throw new Error(`SCALING_LAB_REQUIRE: unknown component '${name}' (known: ${COMPONENTS.join(', ')}, all)`);
  }
  return out;
}

export function isRequired(component: Component): boolean {
  return requiredComponents().has(component);
}

/** The failure message for a required component that is missing. */
export function missingMessage(component: Component, reason: string): string {
  return `${component} is required (SCALING_LAB_REQUIRE=${process.env.SCALING_LAB_REQUIRE ?? ''}) but missing: ${reason}. Fix: ${FIX[component]}`;
}

interface Skippable {
  skip(message?: string): void;
}

/** A Skip from services.ts (its component says what is missing). */
export interface MissingService {
  skip: string;
  component?: Component;
}

/**
 * The test cannot run because `component` is missing (`reason` says why): skips `t` with the reason, or, when
 * SCALING_LAB_REQUIRE names the component, fails it. Call as `return missing(t, 'native', why)`.
 */
export function missing(t: Skippable, component: Component, reason: string): void {
  if (isRequired(component)) assert.fail(missingMessage(component, reason));
  t.skip(`${reason} (${FIX[component]})`);
}

/** `missing` for a Skip object from services.ts (startPostgres, startRedis, startCluster, ...). */
export function skipOrFail(t: Skippable, skip: MissingService): void {
  if (skip.component === undefined) {
    t.skip(skip.skip);
    return;
  }
  missing(t, skip.component, skip.skip);
}

/** true when `whyNot` is undefined (the component is there); otherwise skips or fails `t` as `missing` does. */
export function needs(t: Skippable, component: Component, whyNot: string | undefined): boolean {
  if (whyNot === undefined) return true;
  missing(t, component, whyNot);
  return false;
}
