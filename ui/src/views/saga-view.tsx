// One saga instance: what it is and how it ended, its flow (steps left to right, the
// compensation path below, the failed step marked), the selected step's attempts, its
// trace, and the operator's commands — retry, compensate, resolve — each confirmed.

import { Fragment } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type Cluster, type CommandRecord } from "../api";
import {
  actionsNote,
  type Attempt,
  explainAction,
  liveSagas,
  newestCompleted,
  type SagaActions,
  sagaActions,
  type SagaFlow,
  type SagaInstance,
  sagaFlow,
} from "../api/sagas";
import { CommandAnswer, CommandDialog, ImpactPreview, sendCommand } from "../components/command";
import { Confirm } from "../components/confirm";
import { ErrorBox, Loading } from "../components/feedback";
import { FlowDiagram } from "../components/flow";
import { sagaFlowModel } from "../flow";
import { clock, duration } from "../format";
import { useResource } from "../hooks";
import { href, navigate } from "../router";
import { SagaTrace } from "./saga-trace";
import { ClusterSelect } from "../components/cluster-select";
import { ExportButton } from "../components/export-button";

type ActionName = keyof SagaActions;

const LABELS: Record<ActionName, string> = {
  retry_saga: "Retry from failed step",
  compensate_saga: "Compensate now",
  resolve_saga: "Resolve…",
};

export function SagaView({ id }: { id: string }) {
  const flow = useResource(() => sagaFlow(id), [id], { liveOn: ["saga"], throttleMs: 2000 });
  const statuses = useResource(() => liveSagas(), [], { liveOn: ["saga"], throttleMs: 2000 });
  const clusters = useResource(() => api.get<Cluster[]>("/clusters"), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [dialog, setDialog] = useState<ActionName | null>(null);
  const [clusterChoice, setClusterChoice] = useState("");
  const [lastAnswer, setLastAnswer] = useState<CommandRecord | null>(null);

  const data = flow.data;
  useEffect(() => {
    setSelected(null);
    setLastAnswer(null);
  }, [id]);
  useEffect(() => {
    if (data && selected === null) setSelected(data.steps.find((s) => s.status === "failed")?.name ?? data.steps[data.steps.length - 1]?.name ?? null);
  }, [data]);

  const model = useMemo(() => (data ? sagaFlowModel(data) : null), [data]);

  if (flow.error && !data) {
    return (
      <section>
        <p>
          <a href={href("sagas")}>← Sagas</a>
        </p>
        <h1 class="mono">{id}</h1>
        <ErrorBox error={flow.error} action="Reading the saga" />
      </section>
    );
  }
  if (!data || !model) return <Loading what={`saga ${id}`} />;

  const inst = data.instance;
  const live = statuses.data?.find((s) => s.id === id) ?? null;
  const writable = (clusters.data ?? []).filter((c) => !c.view_only);
  const cluster = live?.cluster ?? clusterChoice ?? "";
  const resolvedCluster = cluster || (writable.length === 1 ? writable[0].name : "");
  const actions = sagaActions(inst, live?.status ?? null, Date.now());
  const startedMs = inst.start_unix_nano / 1_000_000;
  const step = selected ? data.steps.find((s) => s.name === selected.replace(/^undo:/, "")) : undefined;
  const markSpans = step ? [...step.forward, ...step.compensate].map((a) => a.span_id) : [];

  return (
    <section class="saga-view" data-saga-id={inst.saga_id} data-outcome={inst.outcome}>
      <p>
        <a href={href("sagas")}>← Sagas</a>
      </p>
      <header class="saga-head">
        <h1>
          <a href={href("sagas", "aggregate", inst.saga_name)} title={`The aggregate flow of ${inst.saga_name}`}>
            {inst.saga_name}
          </a>{" "}
          <span class="mono">{inst.saga_id}</span> <span class={`state ${inst.outcome}`}>{inst.outcome}</span>
          {live && live.status !== inst.outcome ? (
            <span class="muted" title={`The orchestrator's status, ${clock(live.at_unix_ms)} on ${live.cluster}/${live.agent}`}>
              {" "}
              orchestrator: <span class={`state ${live.status}`}>{live.status}</span>
            </span>
          ) : null}
        </h1>
        <dl class="facts">
          <div>
            <dt>Started</dt>
            <dd title={new Date(startedMs).toLocaleString()}>{new Date(startedMs).toLocaleString()}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{duration(inst.duration_ns)}</dd>
          </div>
          <div>
            <dt>Failing step</dt>
            <dd>{inst.failed_step ? <strong class="bad-text" data-testid="failing-step">{inst.failed_step}</strong> : <span class="muted">none</span>}</dd>
          </div>
          <div>
            <dt>Steps · undone · attempts</dt>
            <dd>
              {inst.steps} · {inst.compensations} · {inst.attempts}
            </dd>
          </div>
          <div>
            <dt>Trace</dt>
            <dd>
              <a class="mono" href={href("traces", inst.trace_id)} data-testid="trace-link">
                {inst.trace_id.slice(0, 16)}…
              </a>
            </dd>
          </div>
        </dl>
        {inst.error ? (
          <p class="saga-error" title={inst.error}>
            {inst.error}
          </p>
        ) : null}
      </header>

      <div class="toolbar saga-actions">
        {(Object.keys(LABELS) as ActionName[]).map((action) => (
          <button
            key={action}
            type="button"
            class={action === "retry_saga" ? "primary" : action === "compensate_saga" ? "danger" : undefined}
            data-action={action}
            disabled={!actions[action].enabled}
            title={actions[action].enabled ? explainAction(action, data) : actions[action].why}
            onClick={() => setDialog(action)}
          >
            {LABELS[action]}
          </button>
        ))}
        {!live && writable.length > 1 ? (
          <label class="inline">
            on cluster{" "}
            <ClusterSelect value={clusterChoice} clusters={writable} onChange={setClusterChoice} none="choose…" testId="saga-cluster" />
          </label>
        ) : null}
        <CompareButton instance={inst} />
        <ExportButton
          what="the saga"
          fileName={`saga-${inst.saga_id}.json`}
          load={() => api.text(`/sagas/${encodeURIComponent(inst.saga_id)}/export`)}
          testId="export-saga"
          title="Download every trace of this saga as OTLP JSON (one request per line)"
        />
        {actionsNote(actions, live?.status ?? inst.outcome) ? <span class="muted" data-testid="actions-note">{actionsNote(actions, live?.status ?? inst.outcome)}</span> : null}
      </div>
      {lastAnswer ? (
        <div class="panel" role="status" data-testid="last-answer">
          <CommandAnswer record={lastAnswer} />
        </div>
      ) : null}
      <ErrorBox error={flow.error} action="Re-reading the saga" />

      <div class="saga-body">
        <div class="panel">
          <h2>Flow</h2>
          <FlowDiagram model={model} selected={selected} onSelect={setSelected} label={`Flow of saga ${inst.saga_id}`} />
          <p class="muted legend">
            <span class="swatch completed" /> completed <span class="swatch compensated" /> undone <span class="swatch failed" /> failed <span class="swatch skipped" /> not run. Forward
            steps left to right; the compensation path runs back right to left below them. Click a step for its attempts.
          </p>
        </div>
        {step ? (
          <div class="panel step-detail" data-testid="step-detail" data-selected-step={step.name}>
            <h2>
              {step.name} <span class="muted">on {step.service}</span>
            </h2>
            <Attempts title="Forward" attempts={step.forward} start={inst.start_unix_nano} />
            <Attempts title="Compensation" attempts={step.compensate} start={inst.start_unix_nano} />
          </div>
        ) : null}
      </div>

      {data.timeline.length ? <Timeline flow={data} /> : null}

      <div class="panel">
        <h2>Trace</h2>
        <SagaTrace traceId={inst.trace_id} markSpanIds={markSpans} />
      </div>

      {dialog && !resolvedCluster ? (
        <Confirm title="Which cluster?" confirmLabel="OK" onClose={() => setDialog(null)} run={async () => "Choose the cluster beside the buttons, then try again."}>
          <p>No agent reports this saga now, and there is more than one cluster: choose the one whose orchestrator runs it.</p>
        </Confirm>
      ) : dialog === "resolve_saga" ? (
        <ResolveDialog
          cluster={resolvedCluster}
          flow={data}
          onClose={() => setDialog(null)}
          onDone={(r) => {
            setLastAnswer(r);
            flow.reload();
            statuses.reload();
          }}
        />
      ) : dialog ? (
        <CommandDialog
          cluster={resolvedCluster}
          command={{ action: dialog, saga_id: inst.saga_id } as { action: "retry_saga"; saga_id: string }}
          title={`${dialog === "retry_saga" ? "Retry" : "Compensate"} saga ${inst.saga_id}`}
          explain={explainAction(dialog, data)}
          confirmLabel={dialog === "retry_saga" ? "Retry" : "Compensate"}
          danger={dialog === "compensate_saga"}
          onClose={() => setDialog(null)}
          onDone={(r) => {
            setLastAnswer(r);
            flow.reload();
            statuses.reload();
          }}
        />
      ) : null}
    </section>
  );
}

function ResolveDialog({ cluster, flow, onClose, onDone }: { cluster: string; flow: SagaFlow; onClose: () => void; onDone: (r: CommandRecord) => void }) {
  const [comment, setComment] = useState("");
  const id = flow.instance.saga_id;
  return (
    <Confirm
      title={`Resolve saga ${id}`}
      confirmLabel="Resolve"
      onClose={onClose}
      run={async (reason) => {
        if (!comment.trim()) throw new Error("Write a comment: what was done about this saga.");
        const record = await sendCommand(cluster, { action: "resolve_saga", saga_id: id, comment: comment.trim() }, reason || comment.trim());
        onDone(record);
        return <CommandAnswer record={record} />;
      }}
    >
      <p>{explainAction("resolve_saga", flow)}</p>
      <label>
        Comment (required: what was done about it)
        <textarea rows={2} value={comment} onInput={(e) => setComment(e.currentTarget.value)} placeholder="refunded by hand; stock released" data-testid="resolve-comment" />
      </label>
      {/* The comment changes nothing about what is touched: one preview, not one per key. */}
      <ImpactPreview cluster={cluster} command={{ action: "resolve_saga", saga_id: id, comment: "" }} />
    </Confirm>
  );
}

function Attempts({ title, attempts, start }: { title: string; attempts: Attempt[]; start: number }) {
  if (!attempts.length) return <p class="muted">{title}: none.</p>;
  return (
    <>
      <h3>{title}</h3>
      <table class="attempts">
        <thead>
          <tr>
            <th>#</th>
            <th>Status</th>
            <th>Start</th>
            <th class="num">Duration</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a, i) => (
            <Fragment key={a.span_id}>
              <tr data-attempt={a.attempt ?? i + 1} data-phase={a.phase}>
                <td>{a.attempt ?? i + 1}</td>
                <td>
                  <span class={`state ${a.status === "error" ? "error" : "ok"}`}>{a.status === "error" ? "error" : "ok"}</span>
                </td>
                <td title={new Date(a.start_unix_nano / 1_000_000).toLocaleString()}>+{duration(Math.max(0, a.start_unix_nano - start))}</td>
                <td class="num">{duration(a.duration_ns)}</td>
              </tr>
              {a.error ? (
                <tr class="attempt-error">
                  <td />
                  <td colSpan={3}>{a.error}</td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Every attempt in the order it ran, as bars on one time axis. */
function Timeline({ flow }: { flow: SagaFlow }) {
  const items = flow.timeline;
  const start = Math.min(...items.map((a) => a.start_unix_nano));
  const end = Math.max(...items.map((a) => a.start_unix_nano + a.duration_ns));
  const total = Math.max(1, end - start);
  return (
    <details class="panel" open>
      <summary>
        <strong>Timings</strong> <span class="muted">every attempt in the order it ran, over {duration(total)}</span>
      </summary>
      <table class="timeline">
        <tbody>
          {items.map((a) => (
            <tr key={a.span_id} data-phase={a.phase}>
              <td>
                {a.phase === "compensate" ? "↶ undo " : ""}
                {a.step}
                {a.attempt && a.attempt > 1 ? <span class="muted"> attempt {a.attempt}</span> : null}
              </td>
              <td class="bar-col">
                <div class="span-bar-track">
                  <div
                    class={`span-bar${a.status === "error" ? " is-error" : a.phase === "compensate" ? " undo" : ""}`}
                    style={{ left: `${((a.start_unix_nano - start) / total) * 100}%`, width: `${Math.max(0.5, (a.duration_ns / total) * 100)}%` }}
                  />
                </div>
              </td>
              <td class="num">+{duration(a.start_unix_nano - start)}</td>
              <td class="num">{duration(a.duration_ns)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

/** "Compare with a completed NAME" (or, for a completed one, with the newest failed one). */
function CompareButton({ instance }: { instance: SagaInstance }) {
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const completed = instance.outcome === "completed";
  const find = async () => {
    setBusy(true);
    setError(null);
    try {
      const other = completed ? await newestFailed(instance.saga_name) : await newestCompleted(instance.saga_name);
      if (!other) throw new Error(`No ${completed ? "failed" : "completed"} ${instance.saga_name} saga is stored to compare with.`);
      navigate(completed ? href("sagas", "compare", { a: other.saga_id, b: instance.saga_id }) : href("sagas", "compare", { a: instance.saga_id, b: other.saga_id }));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={find} disabled={busy} data-testid="compare-completed">
        Compare with a {completed ? "failed" : "completed"} {instance.saga_name}
      </button>
      <ErrorBox error={error} action="Finding one to compare with" />
    </>
  );
}

async function newestFailed(name: string): Promise<SagaInstance | null> {
  const found = await api.get<SagaInstance[]>("/sagas", { name, failed: true, limit: 1 });
  return found[0] ?? null;
}
