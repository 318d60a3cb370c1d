import type { Route } from "../router";

export function Traces(_: { route: Route }) {
  return <h1>Traces</h1>;
}
