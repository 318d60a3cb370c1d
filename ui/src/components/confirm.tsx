// The confirmation every command goes through: what will happen (and the impact
// preview when there is one), then the agent's answer or the error, in the dialog.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBox } from "./feedback";

export interface ConfirmProps {
  title: string;
  /** What will happen, in words. */
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  /** Runs the command; its resolved value is shown as the answer. */
  run: (reason: string) => Promise<ComponentChildren>;
  onClose: () => void;
}

export function Confirm({ title, children, confirmLabel, danger, run, onClose }: ConfirmProps) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [answer, setAnswer] = useState<ComponentChildren | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal?.();
  }, []);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      setAnswer(await run(reason));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} class="confirm" aria-label={title} onClose={onClose} onCancel={onClose}>
      <h2>{title}</h2>
      <div class="what">{children}</div>
      {answer === null ? (
        <>
          <label>
            Reason (kept in the audit history)
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="why" />
          </label>
          <ErrorBox error={error} action={confirmLabel} />
          <div class="buttons">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" class={danger ? "danger" : "primary"} disabled={busy} onClick={confirm} data-testid="confirm">
              {busy ? "Sending…" : confirmLabel}
            </button>
          </div>
        </>
      ) : (
        <>
          <div class="answer" role="status" data-testid="answer">
            {answer}
          </div>
          <div class="buttons">
            <button type="button" class="primary" onClick={onClose} data-testid="close">
              Close
            </button>
          </div>
        </>
      )}
    </dialog>
  );
}
