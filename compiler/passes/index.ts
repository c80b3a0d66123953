/** The optimisation pipeline: named passes run in order, each a rule list for `rewrite`. */
import type { Graph } from '../../ir/types.ts';
import { compact, rewrite } from './rewrite.ts';
import { SIMPLIFY_RULES } from './simplify.ts';

export interface PassReport {
  readonly pass: string;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  readonly ruleHits: Readonly<Record<string, number>>;
}

export interface OptimizeResult {
  readonly graph: Graph;
  readonly reports: readonly PassReport[];
}

/** dce, then simplify (with CSE and constant folding) until the graph stops shrinking. */
export function optimize(graph: Graph, maxRounds = 4): OptimizeResult {
  const reports: PassReport[] = [];
  let current = compact(graph);
  reports.push({ pass: 'dce', nodesBefore: graph.nodes.length, nodesAfter: current.nodes.length, ruleHits: {} });
  for (let round = 0; round < maxRounds; round++) {
    const { graph: next, ruleHits } = rewrite(current, SIMPLIFY_RULES);
    reports.push({ pass: 'simplify', nodesBefore: current.nodes.length, nodesAfter: next.nodes.length, ruleHits });
    const done = next.nodes.length === current.nodes.length;
    current = next;
    if (done) break;
  }
  return { graph: current, reports };
}

export { compact, rewrite, liveNodes } from './rewrite.ts';
export { SIMPLIFY_RULES } from './simplify.ts';
