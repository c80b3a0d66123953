/** Human-readable and JSON forms of a graph. */
import type { Attrs, Graph } from './types.ts';
import { formatLoc, formatShape } from './types.ts';

function formatAttrs(attrs: Attrs): string {
  const parts = Object.entries(attrs)
    .filter(([key]) => key !== 'shape')
    .map(([key, v]) => `${key}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  return parts.length ? ` {${parts.join(' ')}}` : '';
}

/** One line per node: `%7 = matmul(%3, %5) [600,250] {transA=false transB=false}  model.ts:12:5`. */
export function printGraph(graph: Graph): string {
  const lines = graph.nodes.map((node, id) => {
    const args = node.src.map((s) => `%${s}`).join(', ');
    const loc = graph.locs[id] ? `  ${formatLoc(graph.locs[id])}` : '';
    return `%${id} = ${node.kind}(${args}) ${formatShape(node.shape)}${formatAttrs(node.attrs)}${loc}`;
  });
  const outputs = Object.entries(graph.outputs).map(([name, id]) => `out ${name} = %${id}`);
  return [...lines, ...outputs].join('\n');
}

/** Numbers JSON cannot write (Infinity, -Infinity, NaN, -0) travel as { "$number": "..." }. */
const NUMBER_TAG = '$number';

export function graphToJson(graph: Graph): string {
  return JSON.stringify(graph, (_key, value: unknown) => {
    if (typeof value !== 'number') return value;
    if (Number.isFinite(value) && !Object.is(value, -0)) return value;
    return { [NUMBER_TAG]: Object.is(value, -0) ? '-0' : String(value) };
  });
}

export function graphFromJson(text: string): Graph {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length !== 1 || keys[0] !== NUMBER_TAG) return value;
    return Number((value as Record<string, string>)[NUMBER_TAG]);
  }) as Graph;
}
