import type { Route } from "../router";

export function Sagas(_: { route: Route }) {
  return <h1>Sagas</h1>;
}
