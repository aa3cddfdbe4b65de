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
