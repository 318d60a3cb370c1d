// Findings: what is stuck — sagas waiting for an operator or gone quiet, breakers held
// open with no traffic to close them, projections lagging — each with the command that
// moves it on. Read again every 15 s and when sagas, breakers or commands change.

import { useState } from "preact/hooks";
import type { Command } from "../api";
import { control, type Finding } from "../api/control";
import { describeCommand, span } from "../board";
import { CommandDialog } from "../components/command";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { clock } from "../format";
import { useResource } from "../hooks";
import { href, navigate, type Route } from "../router";
import { useListKeys } from "./breaker-keys";
import { useNow } from "./breaker-live";

const KIND_WORDS: Record<string, string> = {
  saga_needs_operator: "Saga needs an operator",
  saga_stuck: "Saga stuck",
  breaker_without_traffic: "Breaker stuck: no traffic",
  projection_lagging: "Projection lagging",
};

export function kindWords(kind: string): string {
  return KIND_WORDS[kind] ?? kind.replace(/_/g, " ");
}

/** Where a finding's subject opens: a saga's page, a breaker's page; null for others. */
export function subjectHref(f: Finding): string | null {
  if (f.kind.startsWith("saga")) return href("sagas", f.subject);
  if (f.kind.startsWith("breaker")) return href("breakers", f.subject, { cluster: f.cluster });
  return null;
}

export function Findings(_: { route: Route }) {
  const findings = useResource(() => control.findings(), [], { liveOn: ["saga", "breaker", "command"], throttleMs: 3000, everyMs: 15_000 });
  const [pending, setPending] = useState<{ finding: Finding; command: Command } | null>(null);
  const now = useNow();
  const list = findings.data ?? [];
  const [active, setActive] = useListKeys(list.length, (i) => {
    const to = subjectHref(list[i]);
    if (to) navigate(to);
  });

  return (
    <section>
      <div class="toolbar">
        <h1>Findings</h1>
        <button type="button" class="small" onClick={findings.reload} disabled={findings.loading} data-testid="refresh">
          {findings.loading ? "Checking…" : "Check now"}
        </button>
        <span class="muted small">checked every 15 s</span>
      </div>
      <ErrorBox error={findings.error} action="Checking for stuck work" />
      {findings.data === undefined ? (
        findings.error ? null : <Loading what="findings" />
      ) : list.length === 0 ? (
        <Empty>
          <span data-testid="no-findings">Nothing stuck: no stuck sagas, stuck breakers or lagging projections.</span>
        </Empty>
      ) : (
        <table class="findings">
          <thead>
            <tr>
              <th>Kind</th>
              <th>Subject</th>
              <th>What is wrong</th>
              <th>Since</th>
              <th>Cluster</th>
              <th>Moves it on</th>
            </tr>
          </thead>
          <tbody>
            {list.map((f, i) => {
              const to = subjectHref(f);
              const words = f.action ? describeCommand(f.action) : null;
              return (
                <tr
                  key={`${f.kind}-${f.cluster}-${f.subject}`}
                  data-finding-kind={f.kind}
                  data-subject={f.subject}
                  class={i === active ? "active" : ""}
                  onClick={() => setActive(i)}
                >
                  <td>
                    <span class={`state ${f.kind === "projection_lagging" ? "half_open" : "failed"}`}>{kindWords(f.kind)}</span>
                  </td>
                  <td class="mono">{to ? <a href={to}>{f.subject}</a> : f.subject}</td>
                  <td>{f.summary}</td>
                  <td title={new Date(f.since_unix_ms).toLocaleString()}>
                    for {span(now - f.since_unix_ms)}
                    <div class="muted small">since {clock(f.since_unix_ms)}</div>
                  </td>
                  <td>{f.cluster}</td>
                  <td>
                    {f.action && words ? (
                      <button
                        type="button"
                        class={words.danger ? "small danger-outline" : "small"}
                        data-action={f.action.action}
                        onClick={() => setPending({ finding: f, command: f.action! })}
                      >
                        {words.confirmLabel}
                      </button>
                    ) : (
                      <span class="muted">no command: look at it</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {pending ? (
        <CommandDialog
          cluster={pending.finding.cluster}
          command={pending.command}
          {...describeCommand(pending.command)}
          explain={`${pending.finding.summary.replace(/\.$/, "")}. ${describeCommand(pending.command).explain}`}
          onClose={() => setPending(null)}
          onDone={() => findings.reload()}
        />
      ) : null}
    </section>
  );
}
