/** Capped exponential backoff with jitter: attempt n waits between d/2 and d, d = min·2ⁿ ≤ max. */

export interface BackoffOptions {
  min?: number;
  max?: number;
  factor?: number;
  random?: () => number;
}

export class Backoff {
  readonly min: number;
  readonly max: number;
  readonly factor: number;
  private _random: () => number;
  private _attempt = 0;

  constructor({ min = 500, max = 30_000, factor = 2, random = Math.random }: BackoffOptions = {}) {
    this.min = min;
    this.max = max;
    this.factor = factor;
    this._random = random;
  }

  get attempt(): number {
    return this._attempt;
  }

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.max, this.min * this.factor ** Math.min(this._attempt, 32));
    this._attempt += 1;
    return Math.round(ceiling / 2 + (this._random() * ceiling) / 2);
  }

  reset(): void {
    this._attempt = 0;
  }
}
