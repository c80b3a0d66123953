/**
 * Unit tests for the rewrite passes: one test per simplification rule (the rewritten graph has
 * the expected shape *and* the same values), CSE by interning, DCE, and the node-count win on
 * the backward graph of a small MLP with a softmax cross-entropy loss.
 */
import { describe, expect, it } from 'vitest';
import { grad } from '../compiler/autodiff/grad.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { evaluateOutputs } from '../ir/evaluate.ts';
import type { Feeds } from '../ir/evaluate.ts';
import { printGraph } from '../ir/print.ts';
import { sizeOf } from '../ir/types.ts';
import type { Graph, Node, NodeId } from '../ir/types.ts';
import { SIMPLIFY_RULES, compact, liveNodes, optimize, rewrite } from '../compiler/passes/index.ts';

/** Deterministic pseudo-random feeds for every input of `graph`. */
function feedsFor(graph: Graph, seed = 1): Feeds {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const feeds: Record<string, number[]> = {};
  for (const node of graph.nodes) {
    if (node.kind !== 'input') continue;
    feeds[node.attrs.name as string] = Array.from({ length: sizeOf(node.shape) }, () =>
      Math.round((next() * 4 - 2) * 1000) / 1000,
    );
  }
  return feeds;
}

function expectSameValues(before: Graph, after: Graph): void {
  for (const seed of [1, 2, 3]) {
    const feeds = feedsFor(before, seed);
    const want = evaluateOutputs(before, feeds);
    const got = evaluateOutputs(after, feeds);
    for (const name of Object.keys(before.outputs)) {
      const w = Array.from(want[name]);
      const g = Array.from(got[name]);
      expect(g.length).toBe(w.length);
      g.forEach((v, i) => expect(v).toBeCloseTo(w[i], 12));
    }
  }
}

interface Simplified {
  readonly before: Graph;
  readonly after: Graph;
  readonly hits: Readonly<Record<string, number>>;
  /** The node an output points at after optimisation. */
  out(name?: string): Node;
}

/** Builds with a plain builder, runs `optimize`, and checks the values did not change. */
function simplify(build: (b: GraphBuilder) => NodeId | Record<string, NodeId>): Simplified {
  const b = new GraphBuilder();
  const built = build(b);
  const before = b.finish(typeof built === 'number' ? { y: built } : built);
  const { graph: after, reports } = optimize(before);
  const hits: Record<string, number> = {};
  for (const r of reports) {
    for (const [rule, n] of Object.entries(r.ruleHits)) hits[rule] = (hits[rule] ?? 0) + n;
  }
  expectSameValues(before, after);
  return { before, after, hits, out: (name = 'y') => after.nodes[after.outputs[name]] };
}

function kinds(graph: Graph): string[] {
  return graph.nodes.map((n) => n.kind);
}

describe('algebraic identities', () => {
  it('x*1 and 1*x are x (also with a broadcast scalar one)', () => {
    for (const build of [
      (b: GraphBuilder, x: NodeId) => b.mul(x, b.fill(1, [2, 3])),
      (b: GraphBuilder, x: NodeId) => b.mul(b.fill(1, [2, 3]), x),
      (b: GraphBuilder, x: NodeId) => b.mul(x, b.fill(1, [])),
    ]) {
      const r = simplify((b) => build(b, b.input('x', [2, 3])));
      expect(r.out().kind).toBe('input');
      expect(kinds(r.after)).toEqual(['input']);
    }
    const r = simplify((b) => b.mul(b.input('x', [2]), b.fill(1, [])));
    expect(r.hits['fold-fills']).toBe(1); // broadcast(fill) -> fill
    expect(r.hits['x*1']).toBe(1);
  });

  it('x+0, 0+x, x-0, x/1 and x^1 are x', () => {
    const r = simplify((b) => {
      const x = b.input('x', [3]);
      const zero = b.fill(0, [3]);
      const one = b.fill(1, [3]);
      return {
        a: b.add(x, zero),
        b: b.add(zero, x),
        c: b.sub(x, zero),
        d: b.div(x, one),
        e: b.pow(x, one),
      };
    });
    for (const name of ['a', 'b', 'c', 'd', 'e']) expect(r.out(name).kind).toBe('input');
    expect(r.after.nodes).toHaveLength(1);
    for (const rule of ['x+0', '0+x', 'x-0', 'x/1', 'x^1']) expect(r.hits[rule]).toBe(1);
  });

  it('0-x is -x', () => {
    const r = simplify((b) => b.sub(b.fill(0, [2]), b.input('x', [2])));
    expect(r.out().kind).toBe('neg');
    expect(kinds(r.after)).toEqual(['input', 'neg']);
    expect(r.hits['0-x']).toBe(1);
  });

  it('-(-x) is x', () => {
    const r = simplify((b) => b.neg(b.neg(b.input('x', [2, 2]))));
    expect(r.out().kind).toBe('input');
    expect(r.hits['-(-x)']).toBe(1);
  });

  it('keeps x*0 (inf·0 and NaN·0 are NaN); x*-1 is -x', () => {
    const r = simplify((b) => {
      const x = b.exp(b.input('x', [2, 3]));
      return {
        a: b.mul(x, b.fill(0, [2, 3])),
        c: b.mul(x, b.fill(-1, [2, 3])),
      };
    });
    expect(r.out('a').kind).toBe('mul');
    expect(r.out('c').kind).toBe('neg');
    expect(r.hits['x*-1']).toBe(1);
    const x = Float64Array.of(Infinity, Number.NaN, 0, 1, -Infinity, 2);
    const { a } = evaluateOutputs(r.after, { x });
    expect([...a].slice(0, 2)).toEqual([Number.NaN, Number.NaN]);
    expect([...a].slice(2)).toEqual([0, 0, 0, 0]);
  });

  it('x-(-y) is x+y and x+(-y) is x-y', () => {
    const r = simplify((b) => {
      const [x, y] = [b.input('x', [3]), b.input('y', [3])];
      return { s: b.sub(x, b.neg(y)), a: b.add(x, b.neg(y)) };
    });
    expect(r.out('s').kind).toBe('add');
    expect(r.out('a').kind).toBe('sub');
    expect(kinds(r.after).sort()).toEqual(['add', 'input', 'input', 'sub']);
  });
});

describe('constant folding of fills', () => {
  it('sum of a fill is a fill of value * count (with and without keepDims)', () => {
    const r = simplify((b) => ({
      all: b.sum(b.fill(1.5, [2, 3, 4]), [0, 1, 2]),
      some: b.sum(b.fill(2, [2, 3, 4]), [0, 2], true),
    }));
    expect(r.out('all')).toMatchObject({ kind: 'fill', shape: [], attrs: { value: 36 } });
    expect(r.out('some')).toMatchObject({ kind: 'fill', shape: [1, 3, 1], attrs: { value: 16 } });
    expect(r.after.nodes.every((n) => n.kind === 'fill')).toBe(true);
  });

  it('elementwise, movement and reduce_max over fills fold to one fill', () => {
    const r = simplify((b) => {
      const c = b.fill(2, [2, 3]);
      const e = b.add(b.exp(b.fill(0, [])), b.mul(c, c)); // 1 + 4 via a broadcast
      const t = b.transpose(b.reshape(e, [3, 2]), [1, 0]);
      return b.reduceMax(b.sqrt(t), [0]);
    });
    expect(r.out()).toMatchObject({ kind: 'fill', shape: [3], attrs: { value: Math.sqrt(5) } });
    expect(r.after.nodes).toHaveLength(1);
    expect(r.hits['fold-fills']).toBeGreaterThanOrEqual(6);
  });

  it('folding keeps constants that JSON cannot spell apart (Infinity, -Infinity, NaN, -0)', () => {
    const b = new GraphBuilder();
    const ids = [Infinity, -Infinity, NaN, 0, -0].map((v) => b.fill(v, [2]));
    expect(new Set(ids).size).toBe(5);
    const r = simplify((bb) => {
      const x = bb.input('x', [2]);
      return {
        lo: bb.maximum(x, bb.log(bb.fill(0, [2]))), // fill(-Infinity) after folding
        hi: bb.div(x, bb.exp(bb.fill(1000, [2]))), // fill(Infinity) after folding
      };
    });
    expect(r.out('lo').kind).toBe('maximum');
    expect(r.out('hi').kind).toBe('div');
  });
});

describe('movement rules', () => {
  it('reshape(reshape(x)) is one reshape, and vanishes when it restores the shape', () => {
    const r = simplify((b) => {
      const x = b.input('x', [2, 3, 4]);
      const once = b.reshape(x, [6, 4]);
      return { r: b.reshape(once, [4, 6]), back: b.reshape(b.reshape(x, [24]), [2, 3, 4]) };
    });
    expect(r.out('r')).toMatchObject({ kind: 'reshape', shape: [4, 6] });
    expect(r.after.nodes[r.out('r').src[0]].kind).toBe('input');
    expect(r.out('back').kind).toBe('input');
    expect(kinds(r.after)).toEqual(['input', 'reshape']);
  });

  it('transpose(transpose(x)) composes the permutations, or vanishes', () => {
    const r = simplify((b) => {
      const x = b.input('x', [2, 3, 4]);
      const t = b.transpose(x, [2, 0, 1]);
      return { c: b.transpose(t, [0, 2, 1]), id: b.transpose(t, [1, 2, 0]) };
    });
    // out axis i reads t axis [0,2,1][i], which reads x axis [2,0,1][that] -> [2,1,0].
    expect(r.out('c')).toMatchObject({ kind: 'transpose', attrs: { perm: [2, 1, 0] } });
    expect(r.out('c').shape).toEqual([4, 3, 2]);
    expect(r.out('id').kind).toBe('input');
    expect(r.hits['transpose(transpose)']).toBe(2);
  });

  it('matmul(transpose(a), b) folds into transA, and transpose(b) into transB', () => {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const r = simplify((b) => {
        const a = b.input('a', [3, 2]);
        const c = b.input('c', [4, 3]);
        // aᵀ is [2,3], cᵀ is [3,4]; apply the operand transposes explicitly.
        const x = tA ? b.transpose(a, [1, 0]) : a;
        const y = tB ? b.transpose(c, [1, 0]) : c;
        return b.matmul(x, y, !tA, !tB);
      });
      const m = r.out();
      expect(m.kind).toBe('matmul');
      expect(m.attrs).toEqual({ transA: true, transB: true });
      expect(m.src.map((s) => r.after.nodes[s].kind)).toEqual(['input', 'input']);
      expect(r.after.nodes.some((n) => n.kind === 'transpose')).toBe(false);
    }
  });

  it('an identity transpose built directly is not folded into matmul as a transpose', () => {
    const r = simplify((b) => {
      const a = b.input('a', [2, 2]);
      const id = b.make('transpose', [a], { perm: [0, 1] });
      return b.matmul(id, b.input('c', [2, 3]));
    });
    expect(r.out().attrs.transA).toBe(false);
  });

  it('identity reshapes and broadcasts built directly are dropped', () => {
    const r = simplify((b) => {
      const x = b.input('x', [2, 3]);
      const r1 = b.make('reshape', [x], { shape: [2, 3] });
      return b.add(r1, b.make('broadcast', [x], { shape: [2, 3] }));
    });
    expect(r.out().src).toEqual([0, 0]);
    expect(r.hits['reshape-identity']).toBe(1);
    expect(r.hits['broadcast-identity']).toBe(1);
  });
});

describe('CSE and DCE', () => {
  it('building the same expression twice gives one node (interning)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    const w = b.input('w', [3, 4]);
    const expr = () => b.sum(b.tanh(b.add(b.matmul(x, w), b.fill(1, []))), [1]);
    const size = () => b.size;
    const first = expr();
    const n = size();
    const second = expr();
    expect(second).toBe(first);
    expect(size()).toBe(n);
    expect(b.input('x', [2, 3])).toBe(x);
    // Different attrs are different nodes.
    expect(b.sum(b.tanh(x), [0])).not.toBe(b.sum(b.tanh(x), [1]));
    expect(b.matmul(x, x, false, true)).not.toBe(b.matmul(x, x, true, false));
  });

  it('the rewrite replay merges nodes that become identical after rewriting', () => {
    const r = simplify((b) => {
      const x = b.input('x', [3]);
      return { a: b.exp(b.mul(x, b.fill(1, [3]))), b: b.exp(b.neg(b.neg(x))) };
    });
    expect(r.after.outputs.a).toBe(r.after.outputs.b);
    expect(kinds(r.after)).toEqual(['input', 'exp']);
  });

  it('unreachable nodes are dropped and the rest renumbered in order', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    const unused = b.input('unused', [2]);
    b.exp(b.add(x, unused));
    b.tanh(x);
    const y = b.neg(x);
    const graph = b.finish({ y });
    expect(liveNodes(graph)).toEqual(new Set([x, y]));
    for (const out of [compact(graph), optimize(graph).graph]) {
      expect(kinds(out)).toEqual(['input', 'neg']);
      expect(out.nodes[1].src).toEqual([0]);
      expect(out.outputs).toEqual({ y: 1 });
    }
  });

  it('source locations follow their nodes through DCE and rewriting', () => {
    const b = new GraphBuilder();
    const loc = { file: 'model.ts', line: 3, column: 7, label: 'tanh' };
    const x = b.input('x', [2]);
    b.exp(x);
    const y = b.withLoc(loc, () => b.tanh(b.mul(x, b.fill(1, []))));
    const graph = b.finish({ y });
    for (const out of [compact(graph), rewrite(graph, SIMPLIFY_RULES).graph]) {
      expect(out.locs[out.outputs.y]).toEqual(loc);
    }
  });
});

describe('a 2-layer MLP with softmax cross-entropy', () => {
  const [batch, features, hidden, classes] = [8, 6, 5, 4];

  function mlp(): Graph {
    const b = new GraphBuilder();
    const x = b.input('x', [batch, features]);
    const labels = b.input('labels', [batch, classes]);
    const w1 = b.input('w1', [features, hidden]);
    const b1 = b.input('b1', [hidden]);
    const w2 = b.input('w2', [hidden, classes]);
    const b2 = b.input('b2', [classes]);
    const h = b.maximum(b.add(b.matmul(x, w1), b1), b.fill(0, []));
    const logits = b.add(b.matmul(h, w2), b2);
    const z = b.sub(logits, b.reduceMax(logits, [1], true));
    const logp = b.sub(z, b.log(b.sum(b.exp(z), [1], true)));
    const loss = b.div(b.neg(b.sum(b.mul(labels, logp), [0, 1])), b.fill(batch, []));
    const [gw1, gb1, gw2, gb2] = grad(b, loss, [w1, b1, w2, b2]);
    return b.finish({ loss, gw1, gb1, gw2, gb2 });
  }

  it('optimize makes the backward graph strictly smaller and keeps its values', () => {
    const before = mlp();
    const live = compact(before).nodes.length;
    const { graph: after, reports } = optimize(before);
    const hits: Record<string, number> = {};
    for (const r of reports) {
      for (const [rule, n] of Object.entries(r.ruleHits)) hits[rule] = (hits[rule] ?? 0) + n;
    }
    console.log(
      `MLP forward+backward: ${before.nodes.length} nodes (${live} live) -> ` +
        `${after.nodes.length} after optimize; rule hits ${JSON.stringify(hits)}`,
    );
    expect(after.nodes.length).toBeLessThan(live);
    expectSameValues(before, after);
    // A second optimisation finds nothing more to remove.
    expect(optimize(after).graph.nodes.length).toBe(after.nodes.length);
    // The matmul VJPs use the trans flags, so no transpose copies appear.
    expect(after.nodes.some((n) => n.kind === 'transpose')).toBe(false);
    expect(printGraph(after)).toContain('matmul');
  });
});
