import type { Route } from "../router";

export function History(_: { route: Route }) {
  return <h1>History</h1>;
}
