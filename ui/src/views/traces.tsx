// The Traces view: `#/traces` searches, `#/traces/ID` shows one trace.

import type { Route } from "../router";
import { TraceSearch } from "./trace-search";
import { TraceView } from "./trace-view";

export { TracePanel, TraceWaterfall, Waterfall } from "../components/waterfall";

export function Traces({ route }: { route: Route }) {
  const id = route.rest[0];
  return id ? <TraceView key={id} id={id} route={route} /> : <TraceSearch route={route} />;
}
