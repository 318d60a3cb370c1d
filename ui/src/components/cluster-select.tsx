// A choice of cluster, for filters ("every cluster") and for where a command goes ("choose…").

export function ClusterSelect(props: {
  value: string;
  clusters: readonly { name: string }[];
  onChange: (name: string) => void;
  /** The label of the empty choice. */
  none: string;
  testId?: string;
}) {
  return (
    <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)} data-testid={props.testId}>
      <option value="">{props.none}</option>
      {props.clusters.map((c) => (
        <option key={c.name} value={c.name}>
          {c.name}
        </option>
      ))}
    </select>
  );
}
