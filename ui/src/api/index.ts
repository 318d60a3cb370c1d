// The API module: one client and one live subscription for every view. Each area's
// answer types and calls live beside it (`types.ts`, and a file per area as it grows).

import { api } from "./client";
import { LiveHub } from "./live";

export { api, ApiError, Client, queryString, decode } from "./client";
export { concerns, LiveHub } from "./live";
export type { LiveMessage, Reply, Transport } from "./transport";
export * from "./types";

export const live = new LiveHub(api.transport);
