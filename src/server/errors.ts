// The dashboard's errors: ServeError for a server that cannot start as asked (a public bind without a token, no store
// there), HttpError for a refused request (its status and message go back as JSON). Both say what to do.
import { checkRunId } from '../store/rows.ts';

/** The server cannot start as asked; the CLI prints the message and the hint. */
export class ServeError extends Error {
  override readonly name = 'ServeError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** A request refused with an HTTP status: the body is { error, hint }. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** A run id as the store accepts it (store/rows.ts checkRunId): also a safe directory name, so no path escapes. */
export function isRunId(id: string): boolean {
  try {
    checkRunId(id);
    return true;
  } catch {
    return false;
  }
}
