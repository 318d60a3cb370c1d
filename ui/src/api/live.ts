// One subscription to the live view, shared by every view: a view registers for the
// change names it shows and is told when to re-read; `ready` and `resync` tell everyone.

import type { LiveMessage, Transport } from "./transport";

type Listener = (message: LiveMessage) => void;

export class LiveHub {
  private listeners = new Set<Listener>();
  private stop: (() => void) | null = null;
  private connected = false;
  private statusListeners = new Set<(connected: boolean) => void>();

  constructor(private readonly transport: Transport) {}

  /** Starts the subscription on first use; returns the function that unregisters. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.stop) this.stop = this.transport.subscribe((m) => this.deliver(m), () => this.setConnected(false));
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (connected: boolean) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.connected);
    return () => this.statusListeners.delete(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  private deliver(message: LiveMessage) {
    if (message.name === "ready") this.setConnected(true);
    for (const listener of [...this.listeners]) listener(message);
  }

  private setConnected(connected: boolean) {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const listener of [...this.statusListeners]) listener(connected);
  }
}

/** Whether a change concerns a view that shows `names` (a `ready` or `resync` concerns all). */
export function concerns(message: LiveMessage, names: readonly string[]): boolean {
  return message.name === "ready" || message.name === "resync" || names.includes(message.name);
}
