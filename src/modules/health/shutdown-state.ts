/**
 * Whether this process has begun to shut down. From then on its health endpoints answer 503
 * `SHUTTING_DOWN`, so a load balancer takes the instance out while it still serves what the
 * balancer sends meanwhile (see SHUTDOWN_DELAY_MS).
 */
export class ShutdownState {
  #begun = false;

  get begun(): boolean {
    return this.#begun;
  }

  begin(): void {
    this.#begun = true;
  }
}
