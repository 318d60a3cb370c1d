// OTLP JSON import: drop `.json`/`.jsonl` files anywhere in the window (or pick them
// with the Traces view's "Import file…" button). Each file is read as text and sent to
// `POST /api/import`; a toast names the file and says what was stored, or why not.

import { useEffect, useState } from "preact/hooks";
import { isImportable, importSummary, MAX_IMPORT_BYTES, telemetryApi } from "../api/telemetry";

export interface Toast {
  id: number;
  file: string;
  state: "sending" | "ok" | "error";
  message: string;
}

type Listener = (toasts: Toast[]) => void;
let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<Listener>();

function publish() {
  for (const l of [...listeners]) l(toasts);
}

function put(toast: Toast) {
  toasts = toasts.some((t) => t.id === toast.id) ? toasts.map((t) => (t.id === toast.id ? toast : t)) : [...toasts, toast];
  publish();
}

export function dismissToast(id: number) {
  toasts = toasts.filter((t) => t.id !== id);
  publish();
}

/** Fired on `window` after an import stored something, so lists can re-read. */
export const IMPORTED_EVENT = "switchyard:imported";

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Imports each file in turn, with a toast per file. */
export async function importFiles(files: Iterable<File>): Promise<void> {
  for (const file of files) {
    const id = nextId++;
    const name = file.name || "the file";
    if (!isImportable(name)) {
      put({ id, file: name, state: "error", message: "not imported: only .json and .jsonl files of OTLP JSON are read" });
      continue;
    }
    if (file.size > MAX_IMPORT_BYTES) {
      put({ id, file: name, state: "error", message: `not imported: ${mib(file.size)} is over the ${mib(MAX_IMPORT_BYTES)} limit` });
      continue;
    }
    put({ id, file: name, state: "sending", message: `importing ${mib(file.size)}…` });
    try {
      const text = await file.text();
      const result = await telemetryApi.importOtlp(text);
      put({ id, file: name, state: "ok", message: `imported ${importSummary(result)}` });
      dispatchEvent(new CustomEvent(IMPORTED_EVENT, { detail: result }));
      setTimeout(() => dismissToast(id), 10_000);
    } catch (e) {
      put({ id, file: name, state: "error", message: `not imported: ${(e as Error).message}` });
    }
  }
}

function hasFiles(e: DragEvent): boolean {
  return !!e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
}

/** The window-wide drop target and the import toasts. */
export function ImportDrop() {
  const [dragging, setDragging] = useState(false);
  const [shown, setShown] = useState<Toast[]>(toasts);

  useEffect(() => {
    listeners.add(setShown);
    return () => void listeners.delete(setShown);
  }, []);

  useEffect(() => {
    // dragenter/dragleave fire for every element crossed: count them.
    let depth = 0;
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setDragging(true);
    };
    const over = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      const files = Array.from(e.dataTransfer?.files ?? []);
      if (files.length) void importFiles(files);
    };
    addEventListener("dragenter", enter);
    addEventListener("dragover", over);
    addEventListener("dragleave", leave);
    addEventListener("drop", drop);
    return () => {
      removeEventListener("dragenter", enter);
      removeEventListener("dragover", over);
      removeEventListener("dragleave", leave);
      removeEventListener("drop", drop);
    };
  }, []);

  return (
    <>
      {dragging ? (
        <div class="drop" data-testid="drop-overlay">
          <div class="drop-card">Drop OTLP JSON files (.json, .jsonl) to import them</div>
        </div>
      ) : null}
      {shown.length ? (
        <div class="toasts" aria-live="polite">
          {shown.map((t) => (
            <div key={t.id} class={`toast import-toast ${t.state}`} role={t.state === "error" ? "alert" : "status"} data-testid="import-toast" data-state={t.state}>
              <div class="toast-head">
                <strong class="mono">{t.file}</strong>
                <button type="button" class="link" onClick={() => dismissToast(t.id)} aria-label="Dismiss">
                  ✕
                </button>
              </div>
              <div>{t.message}</div>
            </div>
          ))}
        </div>
      ) : null}
    </>
  );
}

/** The keyboard way in: a button that opens the file picker. */
export function ImportButton() {
  return (
    <label class="button-like" data-testid="import-file">
      Import file…
      <input
        type="file"
        accept=".json,.jsonl,.ndjson,application/json"
        multiple
        class="visually-hidden"
        onChange={(e) => {
          const input = e.currentTarget as HTMLInputElement;
          const files = Array.from(input.files ?? []);
          input.value = "";
          if (files.length) void importFiles(files);
        }}
      />
    </label>
  );
}
