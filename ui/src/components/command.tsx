// Sending one command: the confirmation says what will happen and shows the impact
// preview (which routes, callers and sagas the subject touches), then the agent's answer.

import { useEffect, useState } from "preact/hooks";
import { api, type Command, type CommandRecord, type Impact } from "../api";
import { Confirm } from "./confirm";
import { ErrorBox } from "./feedback";

/** Who the console records as sending commands from this window. */
export const WHO = "console-ui";

export function sendCommand(cluster: string, command: Command, reason: string): Promise<CommandRecord> {
  return api.post<CommandRecord>("/commands", { cluster, command, reason: reason || "from the console", who: WHO });
}

export function ImpactPreview({ cluster, command }: { cluster: string; command: Command }) {
  const [impact, setImpact] = useState<Impact | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    api.post<Impact>("/impact", { cluster, command }).then(setImpact, setError);
  }, [cluster, JSON.stringify(command)]);
  if (error) return <ErrorBox error={error} action="The impact preview" />;
  if (!impact) return <p class="muted">Working out what this touches…</p>;
  return (
    <div class="impact" data-testid="impact">
      <p>{impact.summary}</p>
      {impact.routes.length ? (
        <p>
          Routes:{" "}
          {impact.routes
            .map((r) => `${r.route} (${r.share_percent.toFixed(0)}% of sampled calls${r.requests_per_second != null ? `, ${r.requests_per_second.toFixed(1)} req/s` : ""})`)
            .join(", ")}
        </p>
      ) : null}
      {impact.callers.length ? <p>Callers: {impact.callers.map((c) => `${c.service} (${c.calls})`).join(", ")}</p> : null}
      {impact.sagas.length ? (
        <p>
          Sagas:{" "}
          {impact.sagas
            .map((s) => `${s.saga_name} [${s.steps.join(", ")}]${s.in_flight.length ? `, ${s.in_flight.length} in flight` : ""}`)
            .join("; ")}
        </p>
      ) : null}
      {impact.clients_moving_percent != null ? <p>{impact.clients_moving_percent}% of clients change sides.</p> : null}
      <p class="muted">
        From {impact.sampled_traces} traces of the last {Math.round(impact.window_seconds / 60)} minutes.
      </p>
    </div>
  );
}

/** The agent's answer to a command, for the dialog. */
export function CommandAnswer({ record }: { record: CommandRecord }) {
  return (
    <div data-outcome={record.outcome}>
      <p>
        <span class={`state ${record.outcome === "ok" ? "ok" : "error"}`}>{record.outcome}</span> {record.action} {record.target}
        {record.agent ? ` on ${record.agent}` : ""}
      </p>
      {record.error ? <p class="error">{record.error}</p> : null}
      {record.result != null ? <pre class="mono">{JSON.stringify(record.result, null, 2)}</pre> : null}
      <p class="muted">The closed-loop verdict follows in the history once the telemetry shows the effect.</p>
    </div>
  );
}

export interface CommandDialogProps {
  cluster: string;
  command: Command;
  title: string;
  /** What will happen, in words. */
  explain: string;
  confirmLabel: string;
  danger?: boolean;
  onClose: () => void;
  onDone?: (record: CommandRecord) => void;
}

export function CommandDialog(props: CommandDialogProps) {
  const { cluster, command } = props;
  return (
    <Confirm
      title={props.title}
      confirmLabel={props.confirmLabel}
      danger={props.danger}
      onClose={props.onClose}
      run={async (reason) => {
        const record = await sendCommand(cluster, command, reason);
        props.onDone?.(record);
        return <CommandAnswer record={record} />;
      }}
    >
      <p>{props.explain}</p>
      <ImpactPreview cluster={cluster} command={command} />
    </Confirm>
  );
}
