// The one error type analysis/ throws for bad input: a message saying what was expected and what came,
// and a hint saying what to do (docs/ARCHITECTURE.md 5.1). The CLI prints both and exits with code 2.

export class AnalysisInputError extends Error {
  readonly hint: string;
  /** where the problem is, when it is in a file */
  readonly file?: string;
  readonly row?: number;
  readonly column?: string;

  constructor(message: string, hint: string, where: { file?: string; row?: number; column?: string } = {}) {
    super(message);
    this.name = 'AnalysisInputError';
    this.hint = hint;
    this.file = where.file;
    this.row = where.row;
    this.column = where.column;
  }
}
