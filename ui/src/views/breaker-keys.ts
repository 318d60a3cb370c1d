// j/k to move in a list and Enter to open the row, for the control views' tables.
// The active row gets the `active` class and is kept in sight.

import { useEffect, useRef, useState } from "preact/hooks";

export function useListKeys(count: number, onOpen: (index: number) => void): [number, (index: number) => void] {
  const [active, setActive] = useState(-1);
  const openRef = useRef(onOpen);
  openRef.current = onOpen;
  const countRef = useRef(count);
  countRef.current = count;
  const activeRef = useRef(active);
  activeRef.current = active;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const target = e.target as HTMLElement;
      if (target.closest?.("input, textarea, select, button, a, [contenteditable]")) return;
      if (document.querySelector("dialog[open]")) return;
      const n = countRef.current;
      if (e.key === "j" && n) {
        e.preventDefault();
        setActive((i) => Math.min(n - 1, i + 1));
      } else if (e.key === "k" && n) {
        e.preventDefault();
        setActive((i) => Math.max(0, i - 1));
      } else if (e.key === "Enter") {
        const i = activeRef.current;
        if (i >= 0 && i < n) {
          e.preventDefault();
          openRef.current(i);
        }
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (active >= count) setActive(count - 1);
    document.querySelector("main .active")?.scrollIntoView?.({ block: "nearest" });
  }, [active, count]);

  return [active, setActive];
}
