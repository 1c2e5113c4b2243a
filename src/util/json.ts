// Canonical JSON: object keys sorted at every level, so two values that differ only in key order write the same
// text. Run ids hash it (train/config.ts runId) and the stores compare specs with it. Imports nothing of ours.

/**
 * JSON.stringify with object keys sorted (by UTF-16 code units) at every level and no whitespace. As in JSON,
 * object members that are undefined are left out, undefined array elements and non-finite numbers become null,
 * and toJSON (a Date) is honoured.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const obj = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, obj[k]]),
    );
  });
}
