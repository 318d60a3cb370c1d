import type { Route } from "../router";

export function Breakers(_: { route: Route }) {
  return <h1>Breakers</h1>;
}
