// The progress event every library layer reports long work through (tokenizer training, corpus encoding): a callback
// the caller passes in. Library code never prints; the one renderer is the CLI's (src/cli/progress.ts phaseProgress).
// Imports nothing of ours.

export interface Progress {
  /** What is going on, e.g. 'train bpe-4096' or 'encode train'. */
  phase: string;
  done: number;
  total: number;
  /** Unit of done/total, e.g. 'merges', 'chars'. */
  unit: string;
}

export type ProgressFn = (p: Progress) => void;
