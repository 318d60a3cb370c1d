// The saga flow diagram, hand-written SVG: steps left to right with forward arrows, the
// compensation path below running right to left, the failed step in red with a label.
// Forward nodes carry `data-step` and `data-step-status`; a click (or Enter) selects one.

import { DEFAULT_LAYOUT, type FlowModel, layout, type LayoutOptions, type PlacedNode } from "../flow";

export interface FlowDiagramProps {
  model: FlowModel;
  /** The selected node's id. */
  selected?: string | null;
  onSelect?: (id: string) => void;
  label: string;
  options?: LayoutOptions;
}

export function FlowDiagram({ model, selected, onSelect, label, options = DEFAULT_LAYOUT }: FlowDiagramProps) {
  const laid = layout(model, options);
  return (
    <div class="flow-wrap" data-testid="saga-flow">
      <svg class="flow" width={laid.width} height={laid.height} viewBox={`0 0 ${laid.width} ${laid.height}`} role="group" aria-label={label}>
        <defs>
          <marker id="flow-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" class="flow-arrowhead" />
          </marker>
          <marker id="flow-arrow-undo" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" class="flow-arrowhead undo" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <g class={`flow-edge ${e.edge.kind} ${e.edge.status ?? "ok"}`} key={`${e.edge.from}>${e.edge.to}`} data-edge={`${e.edge.from}>${e.edge.to}`}>
            <path
              d={e.path}
              stroke-width={e.width}
              fill="none"
              marker-end={`url(#${e.edge.kind === "compensate" ? "flow-arrow-undo" : "flow-arrow"})`}
            />
            {e.edge.label ? (
              <text x={e.labelX} y={e.labelY} text-anchor="middle" class="flow-edge-label">
                {e.edge.label}
              </text>
            ) : null}
          </g>
        ))}
        {laid.nodes.map((p) => (
          <Node key={p.node.id} placed={p} selected={selected === p.node.id} onSelect={onSelect} />
        ))}
      </svg>
    </div>
  );
}

function Node({ placed, selected, onSelect }: { placed: PlacedNode; selected: boolean; onSelect?: (id: string) => void }) {
  const { node, x, y, w, h } = placed;
  const hooks =
    node.row === "forward" ? { "data-step": node.step, "data-step-status": node.status } : { "data-undo-step": node.step, "data-undo-status": node.status };
  const select = () => onSelect?.(node.id);
  return (
    <g
      class={`flow-node ${node.row} ${node.status}${selected ? " selected" : ""}`}
      {...hooks}
      transform={`translate(${x} ${y})`}
      tabIndex={onSelect ? 0 : undefined}
      role={onSelect ? "button" : undefined}
      aria-pressed={onSelect ? selected : undefined}
      aria-label={`${node.row === "compensate" ? "undo " : ""}${node.step}: ${node.lines.join(", ")}`}
      onClick={select}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          select();
        }
      }}
    >
      {node.mark ? (
        <text x={0} y={-7} class="flow-mark">
          {node.mark}
        </text>
      ) : null}
      <rect width={w} height={h} rx={6} class="flow-box" />
      <rect width={5} height={h} rx={2} class="flow-bar" />
      <text x={14} y={20} class="flow-name">
        {node.row === "compensate" ? `↶ ${clip(node.step, Math.floor(w / 8.5) - 2)}` : clip(node.step, Math.floor(w / 8.5))}
        <title>{node.step}</title>
      </text>
      {node.lines.map((line, i) => (
        <text key={i} x={14} y={38 + i * 15} class={i === 0 ? "flow-line first" : "flow-line"}>
          {line}
        </text>
      ))}
    </g>
  );
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
