// Sagas: the failed-first list (`#/sagas`), one instance (`#/sagas/ID`), the aggregate
// flow of a saga name (`#/sagas/aggregate/NAME`) and two instances compared
// (`#/sagas/compare?a=ID&b=ID`).

import type { Route } from "../router";
import { SagaAggregate } from "./saga-aggregate";
import { SagaCompare } from "./saga-compare";
import { SagaList } from "./saga-list";
import { SagaView } from "./saga-view";

export function Sagas({ route }: { route: Route }) {
  const [first, second] = route.rest;
  if (first === "aggregate" && second) return <SagaAggregate name={second} query={route.query} />;
  if (first === "compare") return <SagaCompare a={route.query.get("a") ?? ""} b={route.query.get("b") ?? ""} />;
  if (first) return <SagaView id={first} />;
  return <SagaList query={route.query} />;
}
