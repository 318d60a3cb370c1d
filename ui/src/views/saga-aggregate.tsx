// The aggregate flow of one saga name over a time range: per step, how many reached,
// passed, failed and were undone, and p50/p95 durations — the same left-to-right flow as
// one instance, with counts on the nodes and edges as wide as the traffic through them.

import { useMemo } from "preact/hooks";
import { aggregateFlow, describeRange, filterToQuery, RANGE_PRESETS, rangeFromQuery, rangeToQuery, type RangeChoice } from "../api/sagas";
import { Empty, ErrorBox, Loading } from "../components/feedback";
import { FlowDiagram } from "../components/flow";
import { AGGREGATE_LAYOUT, aggregateFlowModel } from "../flow";
import { duration, percent } from "../format";
import { useResource } from "../hooks";
import { href, navigate } from "../router";
import { RangePicker } from "./saga-list";

// The aggregate needs a bounded range: no "any time".
const PRESETS = RANGE_PRESETS.filter((p) => p.ms !== null);

export function SagaAggregate({ name, query }: { name: string; query: URLSearchParams }) {
  const range = rangeFromQuery(query);
  const bounded: RangeChoice = range.preset === "all" ? { preset: "7d", sinceMs: null, untilMs: null } : range;
  const key = JSON.stringify(bounded);
  const agg = useResource(() => aggregateFlow(name, bounded), [name, key], { liveOn: ["saga"], throttleMs: 5000 });
  const model = useMemo(() => (agg.data ? aggregateFlowModel(agg.data) : null), [agg.data]);
  const setRange = (r: RangeChoice) => navigate(href("sagas", "aggregate", name, rangeToQuery(r)));
  const data = agg.data;
  const failedCount = data ? Object.entries(data.outcomes).filter(([o]) => o !== "completed" && o !== "running" && o !== "unknown").reduce((n, [, c]) => n + c, 0) : 0;

  return (
    <section class="saga-aggregate" data-saga-name={name}>
      <p>
        <a href={href("sagas")}>← Sagas</a>
      </p>
      <h1>
        {name} <span class="muted">aggregate flow</span>
      </h1>
      <div class="filters">
        <RangePicker value={bounded} onChange={setRange} presets={PRESETS} />
        <a href={href("sagas", filterToQuery({ name, failedOnly: true, step: "", text: "", range: bounded }))}>Failed {name} sagas {describeRange(bounded)}</a>
      </div>
      <ErrorBox error={agg.error} action="Reading the aggregate flow" />
      {!data ? (
        agg.error ? null : <Loading what="the aggregate flow" />
      ) : data.instances === 0 || !model || model.nodes.length === 0 ? (
        <Empty>
          No {name} sagas started {describeRange(bounded)}.
        </Empty>
      ) : (
        <>
          <div class="cards">
            <div class="card">
              <div class="figure">{data.instances}</div>
              instances {describeRange(bounded)}
            </div>
            {Object.entries(data.outcomes).map(([outcome, count]) => (
              <a class={`card ${outcome === "completed" ? "ok" : outcome === "running" || outcome === "unknown" ? "" : "bad"}`} key={outcome} href={href("sagas", filterToQuery({ name, failedOnly: outcome !== "completed" && outcome !== "running" && outcome !== "unknown", step: "", text: "", range: bounded }))} data-outcome={outcome}>
                <div class="figure">{count}</div>
                {outcome} ({percent(count / Math.max(1, data.instances))})
              </a>
            ))}
          </div>
          <div class="panel">
            <FlowDiagram model={model} label={`Aggregate flow of ${name}`} options={AGGREGATE_LAYOUT} />
            <p class="muted legend">
              Edges are as wide as the number of instances that went that way; the lower row is the compensation path. {failedCount ? `${failedCount} of ${data.instances} did not complete.` : ""}
            </p>
          </div>
          <table class="aggregate-table" aria-label="Per step">
            <thead>
              <tr>
                <th>Step</th>
                <th class="num">Reached</th>
                <th class="num">Passed</th>
                <th class="num">Failed</th>
                <th class="num">Undone</th>
                <th class="num">Undo failed</th>
                <th class="num">p50</th>
                <th class="num">p95</th>
              </tr>
            </thead>
            <tbody>
              {data.steps.map((s) => (
                <tr key={s.name} data-agg-step={s.name}>
                  <td>
                    {s.failed ? <a href={href("sagas", filterToQuery({ name, failedOnly: true, step: s.name, text: "", range: bounded }))}>{s.name}</a> : s.name}
                  </td>
                  <td class="num">{s.reached}</td>
                  <td class="num">{s.passed}</td>
                  <td class={`num${s.failed ? " bad-text" : ""}`}>
                    {s.failed}
                    {s.reached ? <span class="muted"> ({percent(s.failed / s.reached)})</span> : null}
                  </td>
                  <td class="num">{s.compensated}</td>
                  <td class={`num${s.compensation_failed ? " bad-text" : ""}`}>{s.compensation_failed}</td>
                  <td class="num">{s.p50_ns != null ? duration(s.p50_ns) : "—"}</td>
                  <td class="num">{s.p95_ns != null ? duration(s.p95_ns) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
