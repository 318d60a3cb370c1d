// Overview: every cluster with its agents' health, and the counts that need a look —
// failed sagas and breakers not closed in the last hour — each a link to the list.

import { api, type AgentHealth, type Cluster } from "../api";
import type { LiveBreaker } from "../api/control";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { ago } from "../format";
import { useResource } from "../hooks";
import { href, type Route } from "../router";

interface Counts {
  failedSagas: number;
  moreFailed: boolean;
  openBreakers: number;
  halfOpenBreakers: number;
}

const FAILED_LIMIT = 500;

async function loadCounts(): Promise<Counts> {
  const [failed, breakers] = await Promise.all([
    api.get<unknown[]>("/sagas", { failed: true, since: "1h", limit: FAILED_LIMIT }),
    api.get<LiveBreaker[]>("/breakers"),
  ]);
  return {
    failedSagas: failed.length,
    moreFailed: failed.length >= FAILED_LIMIT,
    openBreakers: breakers.filter((b) => b.state === "open" || b.state === "forced_open").length,
    halfOpenBreakers: breakers.filter((b) => b.state === "half_open").length,
  };
}

export function Overview(_: { route: Route }) {
  const clusters = useResource(() => api.get<Cluster[]>("/clusters"), [], { liveOn: ["agent"] });
  const agents = useResource(() => api.get<AgentHealth[]>("/agents"), [], { liveOn: ["agent"], everyMs: 5000 });
  const counts = useResource(loadCounts, [], { liveOn: ["breaker", "saga"], throttleMs: 1000, everyMs: 15000 });

  return (
    <section>
      <h1>Overview</h1>
      <div class="cards">
        <a class={`card ${counts.data?.failedSagas ? "bad" : "ok"}`} href={href("sagas", { failed: true, since: "1h" })} data-testid="failed-sagas">
          <div class="figure">{counts.data ? `${counts.data.failedSagas}${counts.data.moreFailed ? "+" : ""}` : "…"}</div>
          failed sagas in the last hour
        </a>
        <a class={`card ${counts.data?.openBreakers ? "bad" : "ok"}`} href={href("breakers", { state: "open" })} data-testid="open-breakers">
          <div class="figure">{counts.data ? counts.data.openBreakers : "…"}</div>
          open breakers{counts.data?.halfOpenBreakers ? `, ${counts.data.halfOpenBreakers} half-open` : ""}
        </a>
      </div>
      <ErrorBox error={counts.error} action="Reading the counts" />

      <h2>Clusters</h2>
      <ErrorBox error={clusters.error ?? agents.error} action="Reading the clusters" />
      {clusters.data === undefined ? (
        <Loading what="clusters" />
      ) : clusters.data.length === 0 ? (
        <Empty>
          No clusters yet. <a href={href("settings")}>Add one in Settings</a>.
        </Empty>
      ) : (
        clusters.data.map((cluster) => (
          <div class="panel" key={cluster.name} data-cluster={cluster.name}>
            <strong>{cluster.name}</strong> {cluster.view_only ? <span class="muted">(view only)</span> : null}
            <table>
              <thead>
                <tr>
                  <th>Agent</th>
                  <th>Health</th>
                  <th>Version</th>
                  <th>Last seen</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {cluster.agents.map((a) => {
                  const health = agents.data?.find((h) => h.cluster === cluster.name && h.endpoint === a.endpoint);
                  return (
                    <tr key={a.endpoint} data-agent={a.endpoint}>
                      <td class="mono">
                        {health?.agent_id ? `${health.agent_id} · ` : ""}
                        {a.endpoint}
                      </td>
                      <td>
                        <span class={`state ${health?.connected ? "ok" : "error"}`} data-testid="agent-health">
                          {health ? (health.connected ? "connected" : "disconnected") : "unknown"}
                        </span>
                        {health && health.reconnects > 0 ? <span class="muted"> {health.reconnects} reconnects</span> : null}
                      </td>
                      <td>{health?.version ?? "—"}</td>
                      <td>{health?.last_seen_unix_ms ? ago(health.last_seen_unix_ms) : "never"}</td>
                      <td class="muted">{health?.last_error ?? ""}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ))
      )}
    </section>
  );
}
