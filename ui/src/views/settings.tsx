// Settings: the clusters (add, edit, remove, test the connection to each agent) and the
// receiver's ports and retention. Mistakes in a field are shown at the field; what the
// console refuses is shown at the form.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type AgentHealth, type Cluster } from "../api";
import { control, type AgentTest, type SettingsAnswer } from "../api/control";
import { Confirm } from "../components/confirm";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { ago } from "../format";
import { useResource } from "../hooks";
import type { Route } from "../router";
import {
  clusterInput,
  draftOf,
  emptyAgent,
  emptyDraft,
  keepsToken,
  pendingRestart,
  receiverDraft,
  receiverSettings,
  validateCluster,
  validateReceiver,
  type AgentDraft,
  type ClusterDraft,
  type Errors,
  type ReceiverDraft,
} from "../settings-form";

export function Settings(_: { route: Route }) {
  return (
    <section class="settings">
      <h1>Settings</h1>
      <Clusters />
      <Receiver />
    </section>
  );
}



function Clusters() {
  const clusters = useResource(() => api.get<Cluster[]>("/clusters"), [], { liveOn: ["agent"], throttleMs: 2000 });
  const health = useResource(() => api.get<AgentHealth[]>("/agents"), [], { liveOn: ["agent"], throttleMs: 1000, everyMs: 5000 });
  const [editing, setEditing] = useState<string | null>(null);
  const [added, setAdded] = useState(0);
  const [removing, setRemoving] = useState<string | null>(null);
  const [autoTest, setAutoTest] = useState<{ name: string; n: number } | null>(null);
  const list = clusters.data ?? [];

  const saved = (name: string) => {
    setEditing(null);
    setAdded((n) => n + 1);
    clusters.reload();
    health.reload();
    setAutoTest({ name, n: Date.now() });
  };

  return (
    <>
      <div class="toolbar">
        <h2>Clusters</h2>
        <button type="button" class="small" onClick={() => document.querySelector<HTMLElement>("#add-cluster input")?.focus()} data-testid="add-cluster">
          Add a cluster
        </button>
      </div>
      <ErrorBox error={clusters.error} action="Reading the clusters" />
      {clusters.data === undefined ? (
        clusters.error ? null : <Loading what="clusters" />
      ) : list.length === 0 ? (
        <Empty>No clusters yet: add one with its agents' addresses and tokens.</Empty>
      ) : (
        list.map((c) =>
          editing === c.name ? (
            <div class="panel" key={c.name} data-cluster={c.name}>
              <h3>Edit cluster {c.name}</h3>
              <ClusterForm editing={c} existing={list.map((x) => x.name)} onSaved={saved} onCancel={() => setEditing(null)} />
            </div>
          ) : (
            <ClusterPanel
              key={c.name}
              cluster={c}
              health={health.data ?? []}
              autoTest={autoTest?.name === c.name ? autoTest.n : 0}
              onEdit={() => setEditing(c.name)}
              onRemove={() => setRemoving(c.name)}
            />
          ),
        )
      )}
      <div class="panel" id="add-cluster">
        <h3>Add a cluster</h3>
        <ClusterForm key={added} editing={null} existing={list.map((c) => c.name)} onSaved={saved} />
      </div>
      {removing ? (
        <Confirm
          title={`Remove cluster ${removing}`}
          confirmLabel="Remove"
          danger
          onClose={() => {
            setRemoving(null);
            clusters.reload();
          }}
          run={async () => {
            await control.removeCluster(removing);
            return <p data-outcome="ok">Removed cluster {removing}. Its history stays in the store.</p>;
          }}
        >
          <p>
            The console stops talking to {removing}'s agents and forgets their tokens. Nothing changes on the agents; the commands sent and
            the telemetry received stay. Add it again to reconnect.
          </p>
        </Confirm>
      ) : null}
    </>
  );
}

function ClusterPanel({
  cluster,
  health,
  autoTest,
  onEdit,
  onRemove,
}: {
  cluster: Cluster;
  health: AgentHealth[];
  autoTest: number;
  onEdit: () => void;
  onRemove: () => void;
}) {
  const [testing, setTesting] = useState(false);
  const [tests, setTests] = useState<AgentTest[] | null>(null);
  const [testError, setTestError] = useState<Error | null>(null);

  const test = async () => {
    setTesting(true);
    setTestError(null);
    try {
      setTests(await control.testCluster(cluster.name));
    } catch (e) {
      setTests(null);
      setTestError(e as Error);
    } finally {
      setTesting(false);
    }
  };

  useEffect(() => {
    if (autoTest) test();
  }, [autoTest]);

  return (
    <div class="panel" data-cluster={cluster.name}>
      <div class="toolbar">
        <strong>{cluster.name}</strong>
        {cluster.view_only ? <span class="badge">view only: no commands</span> : null}
        <span class="spacer" />
        <button type="button" class="small" onClick={test} disabled={testing} data-testid="test-connection">
          {testing ? "Testing…" : "Test connection"}
        </button>
        <button type="button" class="small" onClick={onEdit} data-testid="edit-cluster">
          Edit
        </button>
        <button type="button" class="small danger-outline" onClick={onRemove} data-testid="remove-cluster">
          Remove
        </button>
      </div>
      <table>
        <thead>
          <tr>
            <th>Agent</th>
            <th>TLS</th>
            <th>Connection</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {cluster.agents.map((a) => {
            const h = health.find((x) => x.cluster === cluster.name && x.endpoint === a.endpoint);
            const tls = a.tls as { ca?: string | null; domain?: string | null } | null;
            return (
              <tr key={a.endpoint} data-agent={a.endpoint}>
                <td class="mono">{a.endpoint}</td>
                <td>{tls ? `on${tls.domain ? `, as ${tls.domain}` : ""}${tls.ca ? `, CA ${tls.ca}` : ""}` : "off"}</td>
                <td>
                  <span class={`state ${h ? (h.connected ? "ok" : "failed") : "unknown"}`}>{h ? (h.connected ? "connected" : "disconnected") : "unknown"}</span>
                  {h?.last_error && !h.connected ? <div class="muted small">{h.last_error}</div> : null}
                </td>
                <td>{h?.last_seen_unix_ms ? ago(h.last_seen_unix_ms) : "never"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {tests || testError ? (
        <div class="test-result" data-testid="test-result" data-ok={tests ? String(tests.every((t) => t.ok)) : "false"}>
          <ErrorBox error={testError} action="Testing the connection" />
          {tests?.map((t) => (
            <div key={t.endpoint} data-agent={t.endpoint} data-ok={String(t.ok)}>
              <span class={`state ${t.ok ? "ok" : "failed"}`}>{t.ok ? "ok" : (t.kind ?? "error").replace(/_/g, " ")}</span>{" "}
              <span class="mono">{t.endpoint}</span>:{" "}
              {t.ok ? `agent ${t.agent_id ?? "?"}, version ${t.version ?? "?"}` : <span>{t.error ?? "no answer"}</span>}
            </div>
          ))}
        </div>
      ) : null}
    </div>
  );
}

function ClusterForm({
  editing,
  existing,
  onSaved,
  onCancel,
}: {
  editing: Cluster | null;
  existing: string[];
  onSaved: (name: string) => void;
  /** Absent: the form stays (adding), and Cancel clears it. */
  onCancel?: () => void;
}) {
  const [draft, setDraft] = useState<ClusterDraft>(() => (editing ? draftOf(editing) : emptyDraft()));
  const [errors, setErrors] = useState<Errors>({});
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [apiError, setApiError] = useState<Error | null>(null);
  const form = useRef<HTMLFormElement>(null);

  const update = (next: ClusterDraft) => {
    setDraft(next);
    if (tried) setErrors(validateCluster(next, { editing, existing }));
  };
  const setAgent = (i: number, change: Partial<AgentDraft>) =>
    update({ ...draft, agents: draft.agents.map((a, j) => (j === i ? { ...a, ...change } : a)) });

  const submit = async (e: Event) => {
    e.preventDefault();
    setTried(true);
    const found = validateCluster(draft, { editing, existing });
    setErrors(found);
    if (Object.keys(found).length) {
      setTimeout(() => form.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(), 0);
      return;
    }
    setBusy(true);
    setApiError(null);
    try {
      const input = clusterInput(draft, editing);
      if (editing) await control.updateCluster(editing.name, input);
      else await control.addCluster(input);
      onSaved(editing ? editing.name : draft.name.trim());
    } catch (err) {
      setApiError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="cluster-form" data-testid="cluster-form" onSubmit={submit} noValidate>
      <Field label="Name" error={errors.name} name="name">
        <input
          value={draft.name}
          disabled={!!editing}
          placeholder="shop"
          aria-invalid={errors.name ? true : undefined}
          onInput={(e) => update({ ...draft, name: e.currentTarget.value })}
          data-field="name"
        />
        {editing ? <span class="muted small">A cluster cannot be renamed: remove it and add it under the new name.</span> : null}
      </Field>
      <label class="check">
        <input type="checkbox" checked={draft.viewOnly} onChange={(e) => update({ ...draft, viewOnly: e.currentTarget.checked })} data-field="view_only" />{" "}
        View only: watch the cluster, never send it commands
      </label>
      <h4>Agents</h4>
      {errors.agents ? <div class="field-error">{errors.agents}</div> : null}
      {draft.agents.map((a, i) => {
        const keeps = keepsToken(a, editing);
        return (
          <fieldset key={i} class="agent-fields" data-agent-index={i}>
            <legend>Agent {i + 1}</legend>
            <Field label="Address" error={errors[`agents.${i}.endpoint`]} name={`agents.${i}.endpoint`}>
              <input
                value={a.endpoint}
                placeholder="http://127.0.0.1:7700"
                aria-invalid={errors[`agents.${i}.endpoint`] ? true : undefined}
                onInput={(e) => setAgent(i, { endpoint: e.currentTarget.value })}
                data-field="endpoint"
                class="wide"
              />
            </Field>
            <Field label="Token" error={errors[`agents.${i}.token`]} name={`agents.${i}.token`}>
              <input
                type="password"
                autocomplete="off"
                value={a.token}
                placeholder={keeps ? "blank keeps the stored token" : "the agent's token"}
                aria-invalid={errors[`agents.${i}.token`] ? true : undefined}
                onInput={(e) => setAgent(i, { token: e.currentTarget.value })}
                data-field="token"
              />
              {keeps ? <span class="muted small">Leave blank to keep the token stored for this address; the console never shows it.</span> : null}
            </Field>
            <label class="check">
              <input type="checkbox" checked={a.tls} onChange={(e) => setAgent(i, { tls: e.currentTarget.checked })} data-field="tls" /> TLS (https://)
            </label>
            {a.tls ? (
              <div class="tls-fields">
                <Field label="CA certificate file (optional: the system's roots otherwise)" error={errors[`agents.${i}.ca`]} name={`agents.${i}.ca`}>
                  <input value={a.ca} placeholder="/etc/switchyard/ca.pem" onInput={(e) => setAgent(i, { ca: e.currentTarget.value })} data-field="ca" class="wide" />
                </Field>
                <Field label="Server name (optional: the address's host otherwise)" error={errors[`agents.${i}.domain`]} name={`agents.${i}.domain`}>
                  <input
                    value={a.domain}
                    placeholder="agent.example.com"
                    aria-invalid={errors[`agents.${i}.domain`] ? true : undefined}
                    onInput={(e) => setAgent(i, { domain: e.currentTarget.value })}
                    data-field="domain"
                  />
                </Field>
              </div>
            ) : null}
            {draft.agents.length > 1 ? (
              <button type="button" class="link" onClick={() => update({ ...draft, agents: draft.agents.filter((_, j) => j !== i) })}>
                Remove this agent
              </button>
            ) : null}
          </fieldset>
        );
      })}
      <button type="button" class="small" onClick={() => update({ ...draft, agents: [...draft.agents, emptyAgent()] })} data-testid="add-agent">
        Add another agent
      </button>
      <ErrorBox error={apiError} action={editing ? "Saving the cluster" : "Adding the cluster"} />
      <div class="buttons">
        <button type="button" onClick={onCancel ?? (() => (setDraft(emptyDraft()), setErrors({}), setTried(false), setApiError(null)))}>
          {onCancel ? "Cancel" : "Clear"}
        </button>
        <button type="submit" class="primary" disabled={busy} data-testid="save-cluster">
          {busy ? "Saving…" : editing ? "Save" : "Add cluster"}
        </button>
      </div>
    </form>
  );
}

function Field({ label, error, name, children }: { label: string; error?: string; name: string; children: ComponentChildren }) {
  return (
    <div class={`field${error ? " invalid" : ""}`} data-field-name={name}>
      <label>
        <span class="label">{label}</span>
        {children}
      </label>
      {error ? (
        <div class="field-error" role="alert" data-error-for={name}>
          {error}
        </div>
      ) : null}
    </div>
  );
}

const RECEIVER_FIELDS: { key: keyof ReceiverDraft; api: keyof SettingsAnswer["settings"]; label: string; hint: string; placeholder: string }[] = [
  { key: "otlpGrpc", api: "otlp_grpc", label: "OTLP/gRPC address", hint: "where services send traces, metrics and logs over gRPC", placeholder: "127.0.0.1:4317" },
  { key: "otlpHttp", api: "otlp_http", label: "OTLP/HTTP address", hint: "the same over HTTP (protobuf or JSON)", placeholder: "127.0.0.1:4318" },
  { key: "retentionAge", api: "retention_age", label: "Keep telemetry for", hint: "e.g. 7days, 36h; off keeps everything", placeholder: "7days" },
  { key: "retentionSizeMib", api: "retention_size_mib", label: "Keep the database under (MiB)", hint: "the oldest telemetry goes first; 0 for no limit", placeholder: "2048" },
];

/** What runs now, for the line under a field. */
function runningText(answer: SettingsAnswer, key: keyof SettingsAnswer["settings"]): string {
  const value = answer.effective[key];
  if (value == null) return key.startsWith("otlp") ? "this console does not receive now (another process does)" : "the default";
  return String(value);
}

function Receiver() {
  const settings = useResource(() => control.settings(), []);
  const [answer, setAnswer] = useState<SettingsAnswer | null>(null);
  const [draft, setDraft] = useState<ReceiverDraft | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [saveError, setSaveError] = useState<Error | null>(null);
  const [savedAt, setSavedAt] = useState<number | null>(null);

  useEffect(() => {
    if (settings.data) {
      setAnswer(settings.data);
      setDraft(receiverDraft(settings.data.settings));
    }
  }, [settings.data]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    const found = validateReceiver(draft);
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    setSaveError(null);
    try {
      const next = await control.saveSettings(receiverSettings(draft));
      setAnswer(next);
      setDraft(receiverDraft(next.settings));
      setSavedAt(Date.now());
    } catch (err) {
      setSaveError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const waiting = answer ? pendingRestart(answer.settings, answer.effective) : [];

  return (
    <>
      <h2>Receiver and retention</h2>
      <ErrorBox error={settings.error} action="Reading the receiver settings" />
      {!draft ? (
        settings.error ? null : <Loading what="the receiver settings" />
      ) : (
        <form class="panel receiver-form" data-testid="receiver-form" onSubmit={save} noValidate>
          <p class="muted small">Saved settings take effect when the app restarts; a blank field saves the default.</p>
          {RECEIVER_FIELDS.map((f) => (
            <Field key={f.key} label={f.label} error={errors[f.key]} name={f.key}>
              <input
                value={draft[f.key]}
                placeholder={f.placeholder}
                aria-invalid={errors[f.key] ? true : undefined}
                onInput={(e) => {
                  const next = { ...draft, [f.key]: e.currentTarget.value };
                  setDraft(next);
                  if (Object.keys(errors).length) setErrors(validateReceiver(next));
                }}
                data-field={f.api}
              />
              <span class="muted small">
                {f.hint}
                {answer ? (
                  <>
                    {" · "}
                    <span class={waiting.includes(f.api) ? "pending-text" : ""}>
                      running now: {runningText(answer, f.api)}
                      {waiting.includes(f.api) ? " — the saved value takes effect when the app restarts" : ""}
                    </span>
                  </>
                ) : null}
              </span>
            </Field>
          ))}
          {answer?.db_path ? (
            <p class="muted small">
              Database: <span class="mono">{answer.db_path}</span>
              {answer.file ? (
                <>
                  {" · "}settings saved in <span class="mono">{answer.file}</span>
                </>
              ) : null}
            </p>
          ) : null}
          {answer?.restart_required ? (
            <p class="notice" data-testid="restart-required">
              {savedAt ? "Saved: " : "The saved settings differ from the running ones: "}the changes marked above take effect when the app restarts.
            </p>
          ) : savedAt ? (
            <p class="notice ok-notice">Saved and in effect.</p>
          ) : null}
          <ErrorBox error={saveError} action="Saving the receiver settings" />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy} data-testid="save-settings">
              {busy ? "Saving…" : "Save"}
            </button>
          </div>
        </form>
      )}
    </>
  );
}
