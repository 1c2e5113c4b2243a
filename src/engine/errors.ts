// Typed errors for bad input to the engine (config, token ids, shapes, saved state): each says what was
// expected and what came, and carries a `hint` saying what to do. The CLI prints message + hint.

export class EngineError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A model config that cannot build a model (non-integer or non-positive dims, d_model % heads != 0). */
export class ConfigError extends EngineError {}

/** Inputs that do not fit the model: token ids outside [0, vocab), B or T out of range, wrong lengths. */
export class InputError extends EngineError {}

/** Saved state (parameters, optimizer moments) whose sizes do not match this model. */
export class StateError extends EngineError {}
