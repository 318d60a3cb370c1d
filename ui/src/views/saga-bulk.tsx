// Bulk saga actions: choose what to do (compensate, retry, resolve) to which failed
// instances (saga, failing step, time range, at most how many), see the list a dry run
// selects, then run it on exactly those after a confirmation, and read each one's result.

import { useState } from "preact/hooks";
import { api, type Cluster } from "../api";
import { type BulkAction, type BulkReport, type BulkRequest, rangeToNanos, type RangeChoice, runBulk, type SagaFilter } from "../api/sagas";
import { WHO } from "../components/command";
import { Confirm } from "../components/confirm";
import { Empty, ErrorBox } from "../components/feedback";
import { useResource } from "../hooks";
import { href } from "../router";
import { RangePicker } from "./saga-list";
import { ClusterSelect } from "../components/cluster-select";

const ACTIONS: { value: BulkAction; label: string; explain: string }[] = [
  { value: "compensate", label: "Compensate", explain: "undoes the completed steps of each, in reverse order" },
  { value: "retry", label: "Retry", explain: "runs the failed step (or failed compensation) of each again, then goes on" },
  { value: "resolve", label: "Resolve", explain: "closes each by hand as resolved, with your comment; nothing more runs" },
];

export function SagaBulk({ filter, names, onDone }: { filter: SagaFilter; names: string[]; onDone: () => void }) {
  const clusters = useResource(() => api.get<Cluster[]>("/clusters"), []);
  const [action, setAction] = useState<BulkAction>("compensate");
  const [name, setName] = useState(filter.name);
  const [step, setStep] = useState(filter.step);
  const [range, setRange] = useState<RangeChoice>(filter.range);
  const [limit, setLimit] = useState("50");
  const [reason, setReason] = useState("");
  const [comment, setComment] = useState("");
  const [clusterChoice, setCluster] = useState("");
  const [planned, setPlanned] = useState<{ request: BulkRequest; report: BulkReport } | null>(null);
  const [done, setDone] = useState<BulkReport | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [confirming, setConfirming] = useState(false);

  const writable = (clusters.data ?? []).filter((c) => !c.view_only);
  const cluster = clusterChoice || (writable.length === 1 ? writable[0].name : "");

  // Any change of what is selected drops the dry run: the run acts on what was listed.
  const changed = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPlanned(null);
    setDone(null);
  };

  const dryRun = async () => {
    setError(null);
    setDone(null);
    if (!cluster) return setError(new Error("Choose the cluster whose orchestrators get the commands."));
    const parsedLimit = Number(limit);
    if (!Number.isInteger(parsedLimit) || parsedLimit < 1 || parsedLimit > 1000) return setError(new Error("The limit is a whole number from 1 to 1000."));
    if (action === "resolve" && !comment.trim()) return setError(new Error("Resolving needs a comment: what was done about these sagas."));
    const request: BulkRequest = {
      cluster,
      action,
      saga_name: name.trim() || null,
      failed_step: step.trim() || null,
      // Fixed now, so the run selects what the dry run listed (not failures since).
      range: rangeToNanos(range, Date.now()),
      limit: parsedLimit,
      dry_run: true,
      reason: reason.trim(),
      who: WHO,
      comment: comment.trim(),
    };
    setBusy(true);
    try {
      setPlanned({ request, report: await runBulk(request) });
    } catch (e) {
      setError(e as Error);
      setPlanned(null);
    } finally {
      setBusy(false);
    }
  };

  const what = ACTIONS.find((a) => a.value === action)!;
  const report = done ?? planned?.report ?? null;

  return (
    <div class="panel bulk" data-testid="bulk">
      <h2>Bulk action on failed sagas</h2>
      <div class="filters">
        <label>
          Action
          <select value={action} onChange={(e) => changed(setAction)(e.currentTarget.value as BulkAction)} data-testid="bulk-action">
            {ACTIONS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Saga
          <input value={name} list="saga-names" placeholder="any" onInput={(e) => changed(setName)(e.currentTarget.value)} data-testid="bulk-name" />
        </label>
        <label>
          Failing step
          <input value={step} list="saga-steps" placeholder="any" onInput={(e) => changed(setStep)(e.currentTarget.value)} data-testid="bulk-step" />
        </label>
        <RangePicker value={range} onChange={changed(setRange)} />
        <label>
          At most
          <input type="number" min={1} max={1000} value={limit} style="width: 6em" onInput={(e) => changed(setLimit)(e.currentTarget.value)} data-testid="bulk-limit" />
        </label>
        {writable.length > 1 || (clusters.data && writable.length === 0) ? (
          <label>
            Cluster
            <ClusterSelect value={cluster} clusters={writable} onChange={changed(setCluster)} none="choose…" />
          </label>
        ) : null}
      </div>
      <div class="filters">
        <label class="grow">
          Reason (kept in the audit history)
          <input value={reason} placeholder="why" onInput={(e) => setReason(e.currentTarget.value)} data-testid="bulk-reason" />
        </label>
        {action === "resolve" ? (
          <label class="grow">
            Comment (what was done about them)
            <input value={comment} placeholder="refunded by hand in the payments console" onInput={(e) => changed(setComment)(e.currentTarget.value)} data-testid="bulk-comment" />
          </label>
        ) : null}
      </div>
      <p class="muted">
        {what.label} {what.explain}. Only failed sagas are selected{names.length ? ` (sagas seen: ${names.join(", ")})` : ""}.
      </p>
      <div class="toolbar">
        <button type="button" onClick={dryRun} disabled={busy} data-testid="bulk-dry-run">
          {busy ? "Listing…" : "Dry run"}
        </button>
        {planned && !done ? (
          <button
            type="button"
            class="danger"
            disabled={planned.report.matched === 0}
            onClick={() => setConfirming(true)}
            data-testid="bulk-run"
          >
            Run on {planned.report.matched} saga{planned.report.matched === 1 ? "" : "s"}
          </button>
        ) : null}
        <ErrorBox error={error} action={planned ? "The bulk action" : "The dry run"} />
      </div>
      {clusters.data && writable.length === 0 ? <ErrorBox error={new Error("Every cluster is view only: no commands can be sent.")} /> : null}

      {report ? <BulkList report={report} /> : null}

      {confirming && planned ? (
        <Confirm
          title={`${what.label} ${planned.report.matched} saga${planned.report.matched === 1 ? "" : "s"}`}
          confirmLabel={`${what.label} ${planned.report.matched}`}
          danger
          onClose={() => setConfirming(false)}
          run={async (why) => {
            const result = await runBulk({ ...planned.request, dry_run: false, reason: why || planned.request.reason || "bulk action from the console" });
            setDone(result);
            onDone();
            return (
              <p>
                <span class={`state ${result.failed ? "error" : "ok"}`}>{result.failed ? "partly done" : "done"}</span> {result.succeeded} of {result.matched} accepted
                {result.failed ? `, ${result.failed} refused or failed (see the list)` : ""}.
              </p>
            );
          }}
        >
          <p>
            On cluster <strong>{planned.request.cluster}</strong>, the console sends one <code>{action}</code> command per saga listed by the dry run ({planned.report.matched}), each kept in the
            audit history: it {what.explain}.
          </p>
          <p class="muted">Sagas: {planned.report.items.slice(0, 8).map((i) => i.saga_id).join(", ")}{planned.report.items.length > 8 ? `, and ${planned.report.items.length - 8} more` : ""}.</p>
        </Confirm>
      ) : null}
    </div>
  );
}

function BulkList({ report }: { report: BulkReport }) {
  return (
    <div data-testid="bulk-list" data-dry-run={String(report.dry_run)}>
      <p>
        {report.dry_run
          ? report.matched
            ? `The dry run selects ${report.matched} saga${report.matched === 1 ? "" : "s"}; nothing was sent.`
            : ""
          : `Sent: ${report.succeeded} accepted, ${report.failed} refused or failed, of ${report.matched}.`}
      </p>
      {report.items.length === 0 ? (
        <Empty>No failed sagas match: the run would touch nothing.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Saga</th>
              <th>Failing step</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {report.items.map((item) => (
              <tr key={item.saga_id} data-bulk-saga={item.saga_id} data-bulk-outcome={item.outcome}>
                <td>
                  {item.saga_name}{" "}
                  <a class="mono" href={href("sagas", item.saga_id)}>
                    {item.saga_id}
                  </a>
                </td>
                <td>{item.failed_step ?? "—"}</td>
                <td>
                  <span class={`state ${item.outcome === "ok" ? "ok" : item.outcome === "error" ? "error" : "unknown"}`}>{item.outcome}</span>
                  {item.error ? <span class="error-text"> {item.error}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
