/** The floor: a 15-line pool (idle stack, FIFO waiter array, `Promise.resolve` fast path). No timeouts, no agents. */
export class MinimalPool<T> {
  #idle: T[];
  #waiters: ((connection: T) => void)[] = [];
  #head = 0; // FIFO read index; the array is compacted once half of it is consumed
  constructor(connections: T[]) {
    this.#idle = [...connections];
  }
  acquire(): Promise<T> {
    if (this.#idle.length > 0) return Promise.resolve(this.#idle.pop()!);
    return new Promise((resolve) => void this.#waiters.push(resolve));
  }
  release(connection: T): void {
    if (this.#head === this.#waiters.length) return void this.#idle.push(connection);
    const resolve = this.#waiters[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) this.#waiters.splice(0, this.#head), (this.#head = 0);
    resolve(connection);
  }
}
