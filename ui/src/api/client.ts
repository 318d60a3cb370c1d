// Requests to the console's API (the endpoints are listed in crates/console/README.md),
// over whichever transport the UI runs on. Errors become `ApiError` with the console's
// own message and kind, so a view can show them where the user acted.

import { detectTransport, type Reply, type Transport } from "./transport";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>;

/** `?a=1&b&attr=x&attr=y`: `true` is a bare flag; `false`, null, undefined and "" are left out. */
export function queryString(query: Query = {}): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined || v === null || v === false || v === "") continue;
      parts.push(v === true ? encodeURIComponent(key) : `${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
    }
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** The JSON of a successful reply, or the console's error as an `ApiError`. */
export function decode<T>(reply: Reply): T {
  if (reply.status >= 200 && reply.status < 300) {
    if (reply.status === 204 || reply.body === "") return undefined as T;
    return JSON.parse(reply.body) as T;
  }
  let message = `the console answered ${reply.status}`;
  let kind = "http";
  try {
    const error = JSON.parse(reply.body);
    if (typeof error.error === "string") message = error.error;
    if (typeof error.kind === "string") kind = error.kind;
  } catch {
    if (reply.body) message = reply.body.slice(0, 300);
  }
  throw new ApiError(reply.status, kind, message);
}

export class Client {
  constructor(readonly transport: Transport) {}

  async get<T>(path: string, query?: Query): Promise<T> {
    return decode<T>(await this.transport.request("GET", `/api${path}${queryString(query)}`));
  }

  async post<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return decode<T>(await this.transport.request("POST", `/api${path}${queryString(query)}`, JSON.stringify(body)));
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    return decode<T>(await this.transport.request("PUT", `/api${path}`, JSON.stringify(body)));
  }

  async delete(path: string): Promise<void> {
    decode<void>(await this.transport.request("DELETE", `/api${path}`));
  }

  /** A body that is not JSON (an OTLP JSON file as the user dropped it). */
  async postText<T>(path: string, body: string, contentType: string): Promise<T> {
    return decode<T>(await this.transport.request("POST", `/api${path}`, body, contentType));
  }

  /** Text as served: an SVG chart, an exported file. */
  async text(path: string, query?: Query): Promise<string> {
    const reply = await this.transport.request("GET", `/api${path}${queryString(query)}`);
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    return decode<never>(reply);
  }
}

/** The one client the views share. */
export const api = new Client(detectTransport());
