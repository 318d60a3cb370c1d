// The window: navigation on the left, the current view on the right, the live
// connection's state and the theme in the header. Keys: g then o/t/s/b/r/f/h/c to go
// to a view, / to the current view's search, ? for the list.

import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { live } from "./api";
import { href, navigate, type Route, useRoute } from "./router";
import { ImportDrop } from "./views/import";
import { Overview } from "./views/overview";
import { Traces } from "./views/traces";
import { Sagas } from "./views/sagas";
import { Breakers } from "./views/breakers";
import { Routes } from "./views/routes";
import { Findings } from "./views/findings";
import { History } from "./views/history";
import { Settings } from "./views/settings";

interface Section {
  view: string;
  label: string;
  key: string;
  component: ComponentType<{ route: Route }>;
}

export const SECTIONS: Section[] = [
  { view: "", label: "Overview", key: "o", component: Overview },
  { view: "traces", label: "Traces", key: "t", component: Traces },
  { view: "sagas", label: "Sagas", key: "s", component: Sagas },
  { view: "breakers", label: "Breakers", key: "b", component: Breakers },
  { view: "routes", label: "Routes", key: "r", component: Routes },
  { view: "findings", label: "Findings", key: "f", component: Findings },
  { view: "history", label: "History", key: "h", component: History },
  { view: "settings", label: "Settings", key: "c", component: Settings },
];

type Theme = "light" | "dark";

function initialTheme(): Theme {
  const saved = localStorage.getItem("theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function App() {
  const route = useRoute();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [connected, setConnected] = useState(live.isConnected());
  const [help, setHelp] = useState(false);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("theme", theme);
  }, [theme]);

  useEffect(() => {
    const stopStatus = live.onStatus(setConnected);
    const stopLive = live.on(() => {});
    return () => {
      stopStatus();
      stopLive();
    };
  }, []);

  useEffect(() => {
    let pendingG = false;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (target.closest("input, textarea, select, [contenteditable]")) {
        if (e.key === "Escape") target.blur();
        return;
      }
      if (pendingG) {
        pendingG = false;
        const section = SECTIONS.find((s) => s.key === e.key);
        if (section) {
          e.preventDefault();
          navigate(href(...(section.view ? [section.view] : [])));
        }
        return;
      }
      if (e.key === "g") pendingG = true;
      else if (e.key === "/") {
        const search = document.querySelector<HTMLElement>("main [data-search]");
        if (search) {
          e.preventDefault();
          search.focus();
        }
      } else if (e.key === "?") setHelp((h) => !h);
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  const section = SECTIONS.find((s) => s.view === route.view);
  const View = section?.component;
  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Views">
        <div class="brand">Switchyard</div>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.view}>
              <a href={href(...(s.view ? [s.view] : []))} aria-current={s === section ? "page" : undefined} data-nav={s.view || "overview"}>
                {s.label}
                <kbd>g {s.key}</kbd>
              </a>
            </li>
          ))}
        </ul>
        <div class="sidebar-foot">
          <span class={connected ? "dot ok" : "dot down"} title={connected ? "live updates on" : "live updates reconnecting"} data-testid="live-status">
            {connected ? "live" : "reconnecting"}
          </span>
          <button type="button" class="link" onClick={() => setTheme(theme === "dark" ? "light" : "dark")} data-testid="theme">
            {theme === "dark" ? "Light theme" : "Dark theme"}
          </button>
        </div>
      </nav>
      <main id="main" data-view={section ? section.view || "overview" : "unknown"}>
        {View ? <View route={route} /> : <p class="empty">No view at {location.hash}. <a href="#/">Go to the overview</a>.</p>}
      </main>
      <ImportDrop />
      {help ? (
        <div class="help" role="dialog" aria-label="Keyboard shortcuts" onClick={() => setHelp(false)}>
          <h2>Keys</h2>
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.key}>
                <kbd>g {s.key}</kbd> {s.label}
              </li>
            ))}
            <li>
              <kbd>/</kbd> search in this view
            </li>
            <li>
              <kbd>j</kbd>/<kbd>k</kbd> move in lists, <kbd>Enter</kbd> open
            </li>
            <li>
              <kbd>?</kbd> this list
            </li>
          </ul>
        </div>
      ) : null}
    </div>
  );
}
