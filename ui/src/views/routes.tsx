import type { Route } from "../router";

export function Routes(_: { route: Route }) {
  return <h1>Routes</h1>;
}
