// Hash routes (`#/sagas/abc?failed`): they work the same in the desktop app's custom
// protocol and in a browser, and a link is just an href.

import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The first path segment: "", "traces", "sagas", "breakers"… */
  view: string;
  /** The rest of the path, decoded. */
  rest: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "").replace(/^\//, "");
  const [path, search = ""] = raw.split("?", 2);
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: segments[0] ?? "", rest: segments.slice(1), query: new URLSearchParams(search) };
}

/** `#/a/b?x=1` for `href("a", "b", {x: 1})`; empty and false values are left out. */
export function href(...parts: (string | Record<string, string | number | boolean | undefined | null>)[]): string {
  const path: string[] = [];
  const query = new URLSearchParams();
  for (const part of parts) {
    if (typeof part === "string") path.push(encodeURIComponent(part));
    else
      for (const [k, v] of Object.entries(part)) {
        if (v === undefined || v === null || v === false || v === "") continue;
        query.set(k, v === true ? "" : String(v));
      }
  }
  const search = query.toString().replace(/=(?=&|$)/g, "");
  return `#/${path.join("/")}${search ? `?${search}` : ""}`;
}

export function navigate(to: string) {
  if (location.hash !== to) location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}
