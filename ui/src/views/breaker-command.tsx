// A breaker's command buttons (only those that make sense in its state) and their
// confirmation: what will happen, an optional time limit for trip and disable, the
// impact preview, then the agent's answer or the error, all in the dialog.

import { useState } from "preact/hooks";
import type { Command, CommandRecord } from "../api";
import { CommandAnswer, ImpactPreview, sendCommand } from "../components/command";
import { Confirm } from "../components/confirm";
import { ACTION_LABELS, actionsFor, explain, stateWords, type BoardRow, type BreakerAction } from "../board";

const TTLS: { label: string; seconds: number | null }[] = [
  { label: "until reset or released", seconds: null },
  { label: "5 minutes", seconds: 300 },
  { label: "15 minutes", seconds: 900 },
  { label: "1 hour", seconds: 3600 },
  { label: "4 hours", seconds: 14400 },
];

type Target = Pick<BoardRow, "cluster" | "name" | "service" | "state" | "automaticState" | "override" | "telemetryOnly">;

function commandFor(action: BreakerAction, breaker: string, ttl: number | null): Command {
  if (action === "trip" || action === "disable") return { action, breaker, ttl_seconds: ttl };
  return { action, breaker };
}

export function BreakerCommandDialog({
  row,
  action,
  onClose,
  onDone,
}: {
  row: Target;
  action: BreakerAction;
  onClose: () => void;
  onDone?: (record: CommandRecord) => void;
}) {
  const [ttl, setTtl] = useState<number | null>(null);
  const command = commandFor(action, row.name, ttl);
  const timed = action === "trip" || action === "disable";
  return (
    <Confirm
      title={`${ACTION_LABELS[action]} ${row.name}`}
      confirmLabel={ACTION_LABELS[action]}
      danger={action === "trip" || action === "disable"}
      onClose={onClose}
      run={async (reason) => {
        const record = await sendCommand(row.cluster, command, reason);
        onDone?.(record);
        return <CommandAnswer record={record} />;
      }}
    >
      <p data-testid="explain">{explain(action, row, ttl)}</p>
      {timed ? (
        <label class="inline">
          For{" "}
          <select value={ttl == null ? "" : String(ttl)} onChange={(e) => setTtl(e.currentTarget.value ? Number(e.currentTarget.value) : null)} data-testid="ttl">
            {TTLS.map((t) => (
              <option key={t.label} value={t.seconds == null ? "" : String(t.seconds)}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <p class="muted">
        Cluster {row.cluster}
        {row.service ? `, service ${row.service}` : ""}.
      </p>
      <ImpactPreview cluster={row.cluster} command={command} />
    </Confirm>
  );
}

/**
 * The buttons for `row`. The dialog lives with the caller, so it stays open when the
 * row moves or leaves a filtered list after the command.
 */
export function BreakerButtons({ row, onAction }: { row: Target; onAction: (action: BreakerAction) => void }) {
  const actions = actionsFor(row);
  if (!actions.length) return <span class="muted">no agent reports it</span>;
  return (
    <span class="actions">
      {actions.map((a) => (
        <button key={a} type="button" class={a === "trip" ? "small danger-outline" : "small"} data-action={a} onClick={() => onAction(a)}>
          {ACTION_LABELS[a]}
        </button>
      ))}
    </span>
  );
}

/** The state pill: the state in force, coloured as callers meet it. */
export function StatePill({ row }: { row: Pick<BoardRow, "state" | "effective"> }) {
  const cls = row.state === "disabled" || row.state === "observe_only" ? "disabled" : row.effective;
  return (
    <span class={`state ${cls}${row.state === "forced_open" ? " forced" : ""}`} data-testid="breaker-state">
      {stateWords(row.state)}
    </span>
  );
}
