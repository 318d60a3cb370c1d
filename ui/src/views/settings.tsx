import type { Route } from "../router";

export function Settings(_: { route: Route }) {
  return <h1>Settings</h1>;
}
