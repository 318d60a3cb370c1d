// What every view uses to say "loading", "nothing here" and "that failed".

import type { ComponentChildren } from "preact";

export function ErrorBox({ error, action }: { error: Error | undefined | null; action?: string }) {
  if (!error) return null;
  const kind = (error as any).kind as string | undefined;
  return (
    <div class="error" role="alert" data-kind={kind}>
      {action ? <strong>{action} failed: </strong> : null}
      {error.message}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Loading({ what }: { what: string }) {
  return <p class="loading" aria-busy="true">Loading {what}…</p>;
}
