// "Export OTLP JSON": fetches the export from the console and saves it as a file (a
// Blob behind an `<a download>`, which the Tauri webview handles too); the error shows
// beside the button.

import { useEffect, useState } from "preact/hooks";
import { ErrorBox } from "./feedback";

/** Saves text as a file. */
export function download(fileName: string, text: string, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ExportButton(props: { what: string; fileName: string; load: () => Promise<string>; testId: string; title: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => setError(null), [props.fileName]);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      download(props.fileName, await props.load());
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="export">
      <button type="button" onClick={run} disabled={busy} data-testid={props.testId} title={props.title}>
        {busy ? "Exporting…" : "Export OTLP JSON"}
      </button>
      <ErrorBox error={error} action={`Exporting ${props.what}`} />
    </span>
  );
}
