// Hiding the password in a connection URL (Postgres, Redis) before it goes into a message, a log or a store's
// `location`. Imports nothing of ours.

const USERINFO_PASSWORD = /\/\/([^:@/]*):[^@/]*@/;

/**
 * The URL with its password replaced by '***': postgres://me:secret@host/db -> postgres://me:***@host/db. Takes a
 * URL or a string, and a string that does not parse as a URL (a mistyped --store or --queue, shown in the error
 * about it) is still cleaned of anything that looks like //user:password@. A URL without a password comes back as given.
 */
export function redactUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  if (parsed && parsed.password !== '') {
    parsed.password = '***';
    return parsed.href;
  }
  return text.replace(USERINFO_PASSWORD, '//$1:***@');
}
