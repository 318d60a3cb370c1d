export function ImportDrop() {
  return null;
}
