// Data for views: read from the API, re-read when the live view says something they
// show has changed (at most every `throttleMs`), with loading and error state.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { concerns, live } from "./api";

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

export function useResource<T>(
  load: () => Promise<T>,
  deps: unknown[],
  options: { liveOn?: readonly string[]; throttleMs?: number; everyMs?: number } = {},
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (mine !== generation.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    setData(undefined);
    reload();
  }, deps);

  const { liveOn, throttleMs = 500, everyMs } = options;
  useEffect(() => {
    if (!liveOn) return;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const stop = live.on((message) => {
      if (!concerns(message, liveOn) || timer) return;
      timer = setTimeout(() => {
        timer = null;
        reload();
      }, throttleMs);
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [liveOn?.join(","), throttleMs]);

  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);

  return { data, error, loading, reload };
}
