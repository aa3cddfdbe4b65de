/** A small typed event emitter: a listener that throws does not stop the others. */

export class Emitter<E extends object> {
  private _listeners: { [K in keyof E]?: Array<(data: E[K]) => void> } = {};

  on<K extends keyof E>(event: K, fn: (data: E[K]) => void): void {
    (this._listeners[event] ??= []).push(fn);
  }

  off<K extends keyof E>(event: K, fn?: (data: E[K]) => void): void {
    const list = this._listeners[event];
    if (!list) return;
    this._listeners[event] = fn ? list.filter((f) => f !== fn) : [];
  }

  emit<K extends keyof E>(event: K, data: E[K]): void {
    for (const fn of [...(this._listeners[event] ?? [])]) {
      try {
        fn(data);
      } catch (error) {
        // A site's listener must not break the SDK nor the other listeners.
        console.error("FrontDesk: a listener failed", error);
      }
    }
  }

  count(event: keyof E): number {
    return this._listeners[event]?.length ?? 0;
  }

  clear(): void {
    this._listeners = {};
  }
}

/** `on`/`off` over an emitter: the client and the singleton both offer them. */
export class Listenable<E extends object> {
  protected readonly _events = new Emitter<E>();

  on<K extends keyof E>(event: K, fn: (data: E[K]) => void): this {
    this._events.on(event, fn);
    return this;
  }

  off<K extends keyof E>(event: K, fn?: (data: E[K]) => void): this {
    this._events.off(event, fn);
    return this;
  }
}
