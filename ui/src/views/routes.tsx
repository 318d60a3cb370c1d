// Routes: each strangler-fig route with its two sides, the new side's weight as a
// slider (letting go of it asks to confirm the move, with how many clients change
// sides), the shadow share, the shadowed requests and their response differences, and
// the gateway's requests per upstream over time. Changed live by `route` events.

import { useEffect, useRef, useState } from "preact/hooks";
import { live, type Command, type RouteView } from "../api";
import { control } from "../api/control";
import { clientsMoving, describeCommand, diffRate, percentText, sideShares, snapPercent } from "../board";
import { CommandDialog } from "../components/command";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { useResource } from "../hooks";
import { href, type Route } from "../router";

const RANGES = ["15m", "1h", "6h", "24h"] as const;

function routeKey(r: Pick<RouteView, "cluster" | "name">): string {
  return `${r.cluster}\u0000${r.name}`;
}

export function Routes({ route }: { route: Route }) {
  const range = (RANGES as readonly string[]).includes(route.query.get("range") ?? "") ? route.query.get("range")! : "15m";
  const read = useResource(() => control.routes(), [], { liveOn: ["inventory"], throttleMs: 300 });
  const [routes, setRoutes] = useState<RouteView[] | undefined>(undefined);

  useEffect(() => {
    if (read.data) setRoutes(read.data);
  }, [read.data]);

  useEffect(
    () =>
      live.on((message) => {
        if (message.name !== "route" || !message.data?.name) return;
        const { type: _type, ...changed } = message.data as RouteView & { type: string };
        setRoutes((now) => {
          if (!now) return now;
          const i = now.findIndex((r) => routeKey(r) === routeKey(changed));
          if (i < 0) return [...now, changed];
          const next = now.slice();
          next[i] = changed;
          return next;
        });
      }),
    [],
  );

  return (
    <section>
      <div class="toolbar">
        <h1>Routes</h1>
        <span class="segmented" role="group" aria-label="Chart range">
          {RANGES.map((r) => (
            <a key={r} class={`button small${r === range ? " primary" : ""}`} href={href("routes", { range: r })} aria-pressed={r === range}>
              {r}
            </a>
          ))}
        </span>
      </div>
      <ErrorBox error={read.error} action="Reading the routes" />
      {routes === undefined ? (
        read.error ? null : <Loading what="routes" />
      ) : routes.length === 0 ? (
        <Empty>No strangler-fig routes: no agent reports one.</Empty>
      ) : (
        routes
          .slice()
          .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.name.localeCompare(b.name))
          .map((r) => <RoutePanel key={routeKey(r)} route={r} range={range} />)
      )}
    </section>
  );
}

function RoutePanel({ route: r, range }: { route: RouteView; range: string }) {
  const [weight, setWeight] = useState(r.new_percent);
  const [shadow, setShadow] = useState(String(r.shadow_percent));
  const [shadowError, setShadowError] = useState<string | null>(null);
  const [command, setCommand] = useState<Command | null>(null);
  const dragging = useRef(false);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (settle.current && clearTimeout(settle.current)), []);
  const chart = useResource(() => control.routePlot(r.name, range), [r.name, range], { liveOn: ["route"], throttleMs: 5000, everyMs: 30_000 });

  // Follow the agent's value unless a change is waiting for confirmation.
  useEffect(() => {
    if (!command) setWeight(r.new_percent);
  }, [r.new_percent]);
  useEffect(() => {
    if (!command) setShadow(String(r.shadow_percent));
  }, [r.shadow_percent]);

  const shares = sideShares(r.primary_requests, r.new_requests);
  const diffs = diffRate(r.shadow_diffs, r.shadow_requests);
  const words = command ? describeCommand(command) : null;

  const askShadow = () => {
    const value = Number(shadow);
    if (shadow.trim() === "" || !Number.isInteger(value) || value < 0 || value > 100) {
      setShadowError("a whole percent, 0 to 100");
      return;
    }
    setShadowError(null);
    if (value !== r.shadow_percent) setCommand({ action: "set_shadow", route: r.name, percent: value });
  };

  return (
    <div class="panel route" data-route={r.name} data-cluster={r.cluster}>
      <div class="route-head">
        <h2>
          {r.name} <span class="muted small">cluster {r.cluster} · agent {r.agent}</span>
        </h2>
      </div>
      <div class="route-sides">
        <div class="side primary-side">
          <div class="muted small">Primary</div>
          <div class="mono">{r.primary_target}</div>
          <div class="figure-sm" data-testid="primary-share">{100 - weight}%</div>
          <div class="muted small">{r.primary_requests} requests{shares ? ` (${percentText(shares.primary)} of served)` : ""}</div>
        </div>
        <div class="weight">
          <label>
            <span class="muted small">New side's weight: {weight}% of clients</span>
            <input
              type="range"
              min={0}
              max={100}
              step={5}
              value={weight}
              data-testid="weight"
              aria-label={`${r.name}: percent of clients on ${r.new_target}`}
              onPointerDown={() => (dragging.current = true)}
              onInput={(e) => {
                setWeight(snapPercent(Number(e.currentTarget.value)));
                if (settle.current) clearTimeout(settle.current);
              }}
              onChange={(e) => {
                const value = snapPercent(Number(e.currentTarget.value));
                setWeight(value);
                if (settle.current) clearTimeout(settle.current);
                const ask = () => {
                  if (value !== r.new_percent) setCommand({ action: "set_weight", route: r.name, new_percent: value });
                };
                // Letting go of the mouse asks at once; arrow keys ask once they stop.
                if (dragging.current) ask();
                else settle.current = setTimeout(ask, 900);
                dragging.current = false;
              }}
            />
          </label>
          <div class="muted small">
            {weight !== r.new_percent ? `${clientsMoving(r.new_percent, weight)}% of clients would change sides` : "letting go of the slider asks to confirm"}
          </div>
        </div>
        <div class="side new-side">
          <div class="muted small">New</div>
          <div class="mono">{r.new_target}</div>
          <div class="figure-sm" data-testid="new-share">{weight}%</div>
          <div class="muted small">{r.new_requests} requests{shares ? ` (${percentText(shares.fresh)} of served)` : ""}</div>
        </div>
      </div>
      <div class="route-shadow">
        <form
          class="inline-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            askShadow();
          }}
        >
          <label>
            Shadow share{" "}
            <input
              type="number"
              min={0}
              max={100}
              step={1}
              value={shadow}
              class="narrow"
              data-testid="shadow"
              aria-invalid={shadowError ? true : undefined}
              onInput={(e) => setShadow(e.currentTarget.value)}
            />
            %
          </label>
          <button type="submit" class="small" disabled={shadow === String(r.shadow_percent)}>
            Set shadow
          </button>
          {shadowError ? <span class="field-error">{shadowError}</span> : null}
        </form>
        <div>
          <span class="muted small">Shadowed requests</span> <strong>{r.shadow_requests}</strong>
        </div>
        <div data-testid="shadow-diffs">
          <span class="muted small">Response differences</span>{" "}
          <strong class={r.shadow_diffs ? "bad-text" : ""}>{r.shadow_diffs}</strong>
          <span class="muted small"> {diffs == null ? "(nothing shadowed yet)" : `(${percentText(diffs)} of shadowed)`}</span>
        </div>
      </div>
      <ErrorBox error={chart.error} action="Drawing the traffic chart" />
      {chart.data ? (
        <div class="chart" data-testid="route-chart" dangerouslySetInnerHTML={{ __html: chart.data }} />
      ) : chart.error ? null : (
        <Loading what="the traffic chart" />
      )}
      {command && words ? (
        <CommandDialog
          cluster={r.cluster}
          command={command}
          title={words.title}
          explain={`${words.explain}${command.action === "set_weight" ? ` Now ${r.new_percent}%: ${clientsMoving(r.new_percent, command.new_percent)}% of clients change sides.` : ` Now ${r.shadow_percent}%.`}`}
          confirmLabel={words.confirmLabel}
          onClose={() => {
            setCommand(null);
            setWeight(r.new_percent);
            setShadow(String(r.shadow_percent));
          }}
        />
      ) : null}
    </div>
  );
}
