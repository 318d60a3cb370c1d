// The live view's breakers, kept current: read on `ready`/`resync`/`inventory`, and each
// `breaker` event applied to its breaker at once (no re-read). `changed` says which
// breaker changed last and when, so the board can mark it.

import { useEffect, useState } from "preact/hooks";
import { live } from "../api";
import { control, type BreakerEvent, type LiveBreaker } from "../api/control";
import { applyToLive, rowKey } from "../board";
import { useResource } from "../hooks";

export interface LiveBreakers {
  breakers: LiveBreaker[] | undefined;
  error: Error | undefined;
  reload: () => void;
  changed: { key: string; at: number } | null;
}

export function useLiveBreakers(): LiveBreakers {
  const read = useResource(() => control.breakers(), [], { liveOn: ["inventory"], throttleMs: 300 });
  const [breakers, setBreakers] = useState<LiveBreaker[] | undefined>(undefined);
  const [changed, setChanged] = useState<{ key: string; at: number } | null>(null);

  useEffect(() => {
    if (read.data) setBreakers(read.data);
  }, [read.data]);

  useEffect(
    () =>
      live.on((message) => {
        if (message.name !== "breaker") return;
        const event = message.data as BreakerEvent;
        if (!event?.breaker) return;
        setBreakers((now) => (now ? applyToLive(now, event.breaker) : now));
        setChanged({ key: rowKey(event.breaker.cluster, event.breaker.name), at: Date.now() });
      }),
    [],
  );

  return { breakers, error: read.error, reload: read.reload, changed };
}

/** Re-renders every `ms` so "open for 3m" stays true. */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
