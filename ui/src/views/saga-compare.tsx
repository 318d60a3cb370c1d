// Two saga instances side by side, step by step (usually a failed one and a completed
// one of the same saga): status, attempts, compensations and durations with the
// difference, and the first step where they part ways highlighted.

import { useState } from "preact/hooks";
import { newestCompleted, type SagaFlow, sagaFlow } from "../api/sagas";
import { Empty, ErrorBox, Loading } from "../components/feedback";
import { type ComparedRow, compareFlows, type StepSide } from "../compare";
import { statusWord } from "../flow";
import { duration } from "../format";
import { useResource } from "../hooks";
import { href, navigate } from "../router";

export function SagaCompare({ a, b }: { a: string; b: string }) {
  const both = useResource(
    async () => {
      if (!a) return null;
      const [fa, fb] = await Promise.all([sagaFlow(a), b ? sagaFlow(b) : Promise.resolve(null)]);
      return { a: fa, b: fb };
    },
    [a, b],
  );
  const [finding, setFinding] = useState<Error | null>(null);

  const header = (
    <>
      <p>
        <a href={href("sagas")}>← Sagas</a>
      </p>
      <h1>Compare two sagas</h1>
    </>
  );
  if (!a) {
    return (
      <section>
        {header}
        <Empty>
          Tick two sagas in the <a href={href("sagas")}>list</a> and press Compare, or use “Compare with a completed …” on a saga.
        </Empty>
      </section>
    );
  }
  if (both.error) {
    return (
      <section>
        {header}
        <ErrorBox error={both.error} action="Reading the two sagas" />
      </section>
    );
  }
  if (!both.data) return <Loading what="the two sagas" />;
  const { a: fa, b: fb } = both.data;
  if (!fb) {
    const find = async () => {
      setFinding(null);
      try {
        const other = await newestCompleted(fa.instance.saga_name);
        if (!other) throw new Error(`No completed ${fa.instance.saga_name} saga is stored.`);
        navigate(href("sagas", "compare", { a, b: other.saga_id }));
      } catch (e) {
        setFinding(e as Error);
      }
    };
    return (
      <section>
        {header}
        <p>
          Comparing <a href={href("sagas", a)}>{a}</a> with…{" "}
          <button type="button" onClick={find}>
            the newest completed {fa.instance.saga_name}
          </button>
        </p>
        <ErrorBox error={finding} action="Finding a completed saga" />
      </section>
    );
  }

  const rows = compareFlows(fa, fb);
  const first = rows.find((r) => r.firstDivergence);
  return (
    <section class="saga-compare-view">
      {header}
      <div class="compare-heads">
        <Head flow={fa} side="A" />
        <button type="button" onClick={() => navigate(href("sagas", "compare", { a: b, b: a }))} title="Swap A and B" data-testid="swap">
          ⇄
        </button>
        <Head flow={fb} side="B" />
      </div>
      {fa.instance.saga_name !== fb.instance.saga_name ? (
        <p class="error">These are different sagas ({fa.instance.saga_name} and {fb.instance.saga_name}): steps pair by name only where they share one.</p>
      ) : null}
      <p data-testid="divergence">
        {first ? (
          <>
            They part ways at <strong>{first.name}</strong>: {divergenceWords(first)}.
          </>
        ) : (
          "They ran the same steps with the same outcomes; only the durations differ."
        )}
      </p>
      <table class="compare" data-testid="saga-compare">
        <thead>
          <tr>
            <th rowSpan={2}>Step</th>
            <th colSpan={4} class="side-a">
              A
            </th>
            <th colSpan={4} class="side-b">
              B
            </th>
            <th rowSpan={2} class="num">
              Δ duration (B − A)
            </th>
          </tr>
          <tr>
            <th class="side-a">Status</th>
            <th class="num">Attempts</th>
            <th class="num">Undo</th>
            <th class="num">Duration</th>
            <th class="side-b">Status</th>
            <th class="num">Attempts</th>
            <th class="num">Undo</th>
            <th class="num">Duration</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={`${r.name}-${i}`} data-compare-step={r.name} data-differs={r.differs.join(" ") || undefined} data-divergence={r.firstDivergence ? "true" : undefined} class={r.firstDivergence ? "divergence" : r.differs.length ? "differs" : undefined}>
              <td>
                {r.name}
                {r.firstDivergence ? <span class="diverge-tag">first divergence</span> : null}
              </td>
              <SideCells side={r.a} row={r} />
              <SideCells side={r.b} row={r} />
              <td class="num">{r.durationDiffNs == null ? "—" : <span class={Math.abs(r.durationDiffNs) > 0 ? (r.durationDiffNs > 0 ? "slower" : "faster") : ""}>{signed(r.durationDiffNs)}</span>}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <td>Whole saga</td>
            <td colSpan={3}>
              <span class={`state ${fa.instance.outcome}`}>{fa.instance.outcome}</span>
            </td>
            <td class="num">{duration(fa.instance.duration_ns)}</td>
            <td colSpan={3}>
              <span class={`state ${fb.instance.outcome}`}>{fb.instance.outcome}</span>
            </td>
            <td class="num">{duration(fb.instance.duration_ns)}</td>
            <td class="num">{signed(fb.instance.duration_ns - fa.instance.duration_ns)}</td>
          </tr>
        </tfoot>
      </table>
    </section>
  );
}

function Head({ flow, side }: { flow: SagaFlow; side: string }) {
  const i = flow.instance;
  return (
    <div class="panel compare-head" data-side={side}>
      <strong>{side}</strong> {i.saga_name}{" "}
      <a class="mono" href={href("sagas", i.saga_id)}>
        {i.saga_id}
      </a>{" "}
      <span class={`state ${i.outcome}`}>{i.outcome}</span>
      <div class="muted">
        started {new Date(i.start_unix_nano / 1_000_000).toLocaleString()}, {duration(i.duration_ns)}
        {i.failed_step ? `, failed at ${i.failed_step}` : ""}
      </div>
    </div>
  );
}

function SideCells({ side, row }: { side: StepSide | null; row: ComparedRow }) {
  if (!side)
    return (
      <>
        <td colSpan={4} class="muted">
          not run
        </td>
      </>
    );
  const mark = (what: string) => (row.differs.includes(what) ? "changed" : undefined);
  return (
    <>
      <td class={mark("status")} title={side.error ?? undefined}>
        <span class={`state ${side.status}`}>{statusWord(side.status)}</span>
      </td>
      <td class={`num ${mark("attempts") ?? ""}`}>{side.attempts}</td>
      <td class={`num ${mark("compensations") ?? ""}`}>{side.compensations ? `${side.compensations} (${duration(side.compensationNs)})` : "0"}</td>
      <td class="num">{duration(side.durationNs)}</td>
    </>
  );
}

function signed(ns: number): string {
  return ns > 0 ? `+${duration(ns)}` : ns < 0 ? `−${duration(-ns)}` : "0";
}

function divergenceWords(r: ComparedRow): string {
  if (!r.a) return "only B ran it";
  if (!r.b) return "only A ran it";
  const parts: string[] = [];
  const ran = (forward: string) => (forward === "passed" ? "passed it" : forward === "failed" ? "failed it" : "did not run it");
  if (r.differs.includes("status")) parts.push(`A ${ran(r.a.forward)}, B ${ran(r.b.forward)}`);
  if (r.differs.includes("attempts")) parts.push(`${r.a.attempts} attempt(s) against ${r.b.attempts}`);
  if (r.differs.includes("compensations")) parts.push(`undone ${r.a.compensations} time(s) against ${r.b.compensations}`);
  const error = r.a.error ?? r.b.error;
  return parts.join("; ") + (error ? ` — ${error.length > 160 ? `${error.slice(0, 159)}…` : error}` : "");
}
