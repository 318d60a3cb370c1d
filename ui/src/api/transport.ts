// The two ways the UI reaches the console core: Tauri IPC inside the desktop app, HTTP
// (and Server-Sent Events) in a browser on `switchyard ui`. Both carry the same
// requests to the same handlers, so everything above this file is transport-blind.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

/** An answer as the console gave it: status, content type and body text. */
export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

/** One change from the live view: its name (`breaker`, `agent`, `ready`…) and data. */
export interface LiveMessage {
  name: string;
  data: any;
}

export interface Transport {
  readonly kind: "tauri" | "http";
  request(method: string, path: string, body?: string, contentType?: string): Promise<Reply>;
  /** Calls `onMessage` for every change; `onDown` when the stream breaks (it reconnects). */
  subscribe(onMessage: (m: LiveMessage) => void, onDown: () => void): () => void;
}

/** Inside the desktop app: one `api` command carries every request into the console's router. */
export class TauriTransport implements Transport {
  readonly kind = "tauri" as const;

  async request(method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
    return invoke<Reply>("api", { method, path, body: body ?? null, contentType: contentType ?? null });
  }

  subscribe(onMessage: (m: LiveMessage) => void, _onDown: () => void): () => void {
    let stop: (() => void) | undefined;
    let stopped = false;
    listen<LiveMessage>("live", (event) => onMessage(event.payload)).then((unlisten) => {
      if (stopped) unlisten();
      else {
        stop = unlisten;
        // Subscribed: what is read from now on misses nothing (as SSE's `ready`).
        onMessage({ name: "ready", data: { type: "ready" } });
      }
    });
    return () => {
      stopped = true;
      stop?.();
    };
  }
}

/** In a browser: `fetch` for requests, `EventSource` on `/api/live` for changes. */
export class HttpTransport implements Transport {
  readonly kind = "http" as const;

  constructor(
    private readonly base = "",
    private readonly token: string | null = null,
  ) {}

  async request(method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
    if (this.token) headers["authorization"] = `Bearer ${this.token}`;
    const response = await fetch(this.base + path, { method, headers, body });
    return {
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      body: await response.text(),
    };
  }

  subscribe(onMessage: (m: LiveMessage) => void, onDown: () => void): () => void {
    const names = ["ready", "resync", "breaker", "agent", "route", "saga", "fault", "inventory", "command", "verdict", "config"];
    const url = this.base + "/api/live" + (this.token ? `?token=${encodeURIComponent(this.token)}` : "");
    const source = new EventSource(url);
    for (const name of names) {
      source.addEventListener(name, (event) => {
        onMessage({ name, data: JSON.parse((event as MessageEvent).data) });
      });
    }
    // EventSource reconnects by itself; a fresh `ready` follows.
    source.onerror = () => onDown();
    return () => source.close();
  }
}

/** The transport for where the UI runs. */
export function detectTransport(): Transport {
  const w = globalThis as any;
  if (w.__TAURI_INTERNALS__) return new TauriTransport();
  const token = new URLSearchParams(w.location?.search ?? "").get("token");
  return new HttpTransport("", token);
}
