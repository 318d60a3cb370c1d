import type { Route } from "../router";

export function Findings(_: { route: Route }) {
  return <h1>Findings</h1>;
}
