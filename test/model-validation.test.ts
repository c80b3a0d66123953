/**
 * A careless or hostile model declaration gets one GradcError line at the user's own line:
 * shapes (every dimension a positive safe integer, every tensor fewer than 2^31 elements),
 * reserved names, what `build` returns, seeds and batches, optimizer options. A parameter that
 * never reaches the loss gets a warning.
 */
import { describe, expect, it } from 'vitest';
import {
  adagrad, adam, adamw, broadcastTo, defineModel, dense, huber, matmul, momentum, mul, nadam, newtonCg, relu,
  reshape, rmsprop, sgd, softmax, softmaxCrossEntropy, sparseSoftmaxCrossEntropy, sumAll,
} from '../dsl/index.ts';
import type { ModelContext, ModelOutputs, Optimizer, Tensor } from '../dsl/index.ts';
import { compileModel } from '../compiler/compile.ts';
import { GradcError } from '../ir/errors.ts';
import { MAX_ELEMENTS } from '../ir/limits.ts';

const THIS_FILE = 'test/model-validation.test.ts';

/** The line this function is called from (the stack maps the same way callerLoc's does). */
function here(): number {
  const frame = new Error().stack!.split('\n')[2];
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

type Build = (m: ModelContext, batch: number) => ModelOutputs;

function model(build: Build, optimizer: Optimizer = sgd({ learningRate: 0.1 }), batch = 4) {
  return defineModel({ name: 'checked', batch, optimizer, build });
}

function compile(build: Build, optimizer?: Optimizer) {
  return compileModel(model(build, optimizer).declare());
}

/** A model whose loss is sum(x * w) over one shape. */
function scalarModel(m: ModelContext, shape: readonly number[]): ModelOutputs {
  const x = m.input('x', shape);
  const w = m.param('w', shape, 'zeros');
  return { loss: sumAll(mul(x, w)), predictions: {} };
}

/**
 * Runs `f`, expecting a one-line GradcError at `line` of this file (a function when `f` itself
 * finds the line out) whose message matches.
 */
function expectUserError(f: () => unknown, line: number | (() => number) | undefined, pattern: RegExp): GradcError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'no error thrown').toBeInstanceOf(GradcError);
  const error = caught as GradcError;
  expect(error.message).not.toContain('\n');
  expect(error.message).toMatch(pattern);
  expect(error.loc?.file).toBe(THIS_FILE);
  if (line !== undefined) expect(error.loc?.line).toBe(typeof line === 'function' ? line() : line);
  return error;
}

describe('shapes are validated where they enter', () => {
  const bad = [2.5, -3, 0, Number.NaN, Infinity, 2 ** 53, -0];

  it('refuses a dimension of an input, a parameter or a state that is not a positive safe integer', () => {
    for (const d of bad) {
      let line = 0;
      const input = (m: ModelContext) => {
        line = here(); m.input('x', [4, d]);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(input), () => line, /input "x": .*not a positive integer/);
      const param = (m: ModelContext) => {
        line = here(); m.param('p', [d], 'zeros');
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(param), () => line, /param "p": .*not a positive integer/);
      const state = (m: ModelContext) => {
        line = here(); m.state('s', [d, 2]);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(state), () => line, /state "s": .*not a positive integer/);
    }
  });

  it('refuses a shape that is not an array of numbers', () => {
    let line = 0;
    for (const shape of [5, '3', [3, '4'], [undefined], null]) {
      const build = (m: ModelContext) => {
        line = here(); m.input('x', shape as never);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(build), () => line, /input "x": /);
    }
  });

  it('refuses a batch that is not a positive safe integer, at the defineModel line', () => {
    for (const batch of [0, 2.5, -3, Number.NaN, 2 ** 53]) {
      const line = here(); const f = () => defineModel({ name: 'b', batch, optimizer: sgd({ learningRate: 1 }), build: (m) => scalarModel(m, [1]) });
      expectUserError(f, line, /batch .*not a positive integer/);
    }
    const ok = defineModel({ name: 'b', batch: 4, optimizer: sgd({ learningRate: 1 }), build: (m, B) => scalarModel(m, [B]) });
    expect(() => ok.declare({ batch: 0 })).toThrow(GradcError);
    expect(() => ok.declare({ batch: 1.5 })).toThrow(/batch 1.5 is not a positive integer/);
  });

  it('refuses reshape and broadcast targets that are not positive integers', () => {
    for (const d of bad) {
      let line = 0;
      const r = (m: ModelContext) => {
        const x = m.input('x', [4]);
        line = here(); reshape(x, [4, d]);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(r), () => line, /reshape/);
      const b = (m: ModelContext) => {
        const x = m.input('x', [1]);
        line = here(); broadcastTo(x, [d]);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(b), () => line, /broadcastTo/);
    }
  });

  it('refuses an input, parameter or state of 2^31 elements or more (the kernels index with int32)', () => {
    expect(MAX_ELEMENTS).toBe(2 ** 31 - 1);
    let line = 0;
    const big = (m: ModelContext) => {
      line = here(); m.input('x', [2 ** 16, 2 ** 15]);
      return scalarModel(m, [1]);
    };
    expectUserError(() => compile(big), () => line, /input "x": \[65536,32768\] holds 2,147,483,648 elements, more than 2,147,483,647/);
    const param = (m: ModelContext) => {
      line = here(); m.param('w', [2 ** 31], 'zeros');
      return scalarModel(m, [1]);
    };
    expectUserError(() => compile(param), () => line, /param "w": .*2,147,483,648 elements/);
    const state = (m: ModelContext) => {
      line = here(); m.state('s', [3, 2 ** 40]);
      return scalarModel(m, [1]);
    };
    expectUserError(() => compile(state), () => line, /state "s": /);
    // The largest tensor allowed still compiles (nothing is allocated at build time).
    expect(() => compile((m) => scalarModel(m, [MAX_ELEMENTS]))).not.toThrow();
  });

  it('refuses an intermediate result of 2^31 elements or more (a broadcast, a matmul) at its line', () => {
    let line = 0;
    const broadcast = (m: ModelContext) => {
      const a = m.input('a', [2 ** 16, 1]);
      const w = m.param('w', [2 ** 16], 'zeros');
      line = here(); const p = mul(a, w);
      return { loss: sumAll(p), predictions: {} };
    };
    expectUserError(() => compile(broadcast), () => line, /mul: .*\[65536,65536\] .*4,294,967,296 elements/);
    const product = (m: ModelContext) => {
      const a = m.input('a', [2 ** 16, 2]);
      const w = m.param('w', [2, 2 ** 16], 'zeros');
      line = here(); const p = matmul(a, w);
      return { loss: sumAll(p), predictions: {} };
    };
    expectUserError(() => compile(product), () => line, /matmul: .*4,294,967,296 elements/);
  });
});

describe('reserved and special names', () => {
  const reserved = ['__proto__', 'grad:w', 'hvp:0:w', 'update:w', 'predict:p', 'loss', 'lr', 'step'];

  it('refuses a reserved name for an input, a parameter or a state, saying which names are reserved', () => {
    for (const name of reserved) {
      for (const declare of [
        (m: ModelContext) => m.input(name, [2]),
        (m: ModelContext) => m.param(name, [2], 'zeros'),
        (m: ModelContext) => m.state(name, [2]),
      ]) {
        let line = 0;
        const build = (m: ModelContext) => {
          line = here(); declare(m);
          return scalarModel(m, [1]);
        };
        const error = expectUserError(() => compile(build), undefined, /reserved/);
        // The declaration is one frame further down, inside the arrow of the list above.
        expect(error.loc?.line).toBeLessThan(line);
        expect(error.message).toContain('loss, lr, step, __proto__');
        expect(error.message).toContain('grad:');
      }
    }
  });

  it('keeps an input named __proto__ from vanishing: it is refused, not dropped', () => {
    let line = 0;
    const build = (m: ModelContext) => {
      line = here(); const x = m.input('__proto__', [3]);
      const w = m.param('w', [3], 'zeros');
      return { loss: sumAll(mul(x, w)), predictions: {} };
    };
    expectUserError(() => compile(build), () => line, /input "__proto__" .*reserved/);
  });

  it('refuses a prediction named __proto__, as a computed key or as a literal prototype', () => {
    const computed = (m: ModelContext) => {
      const x = m.input('x', [3]);
      const w = m.param('w', [3], 'zeros');
      const p = mul(x, w);
      return { loss: sumAll(p), predictions: { ['__proto__']: p } };
    };
    expectUserError(() => compile(computed), undefined, /prediction "__proto__" .*reserved/);
    const literal = (m: ModelContext) => {
      const x = m.input('x', [3]);
      const w = m.param('w', [3], 'zeros');
      const p = mul(x, w);
      return { loss: sumAll(p), predictions: { __proto__: p } as unknown as Record<string, Tensor> };
    };
    expectUserError(() => compile(literal), undefined, /prediction "__proto__" .*reserved/);
  });

  it('refuses an input named like a gradient placeholder (grad:w) instead of crashing', () => {
    let line = 0;
    const build = (m: ModelContext) => {
      line = here(); const x = m.input('grad:w', [3]);
      const w = m.param('w', [3], 'zeros');
      return { loss: sumAll(mul(x, w)), predictions: {} };
    };
    expectUserError(() => compile(build), () => line, /input "grad:w" .*reserved/);
  });

  it('refuses empty, non-string and control-character names', () => {
    for (const name of ['', 3, undefined, 'a\nb']) {
      let line = 0;
      const build = (m: ModelContext) => {
        line = here(); m.input(name as string, [2]);
        return scalarModel(m, [1]);
      };
      expectUserError(() => compile(build), () => line, /input.*name/);
    }
  });

  it('compiles unicode names and names that are Object.prototype properties, with the right roles', () => {
    const compiled = compile((m) => {
      const x = m.input('constructor', [3]);
      const y = m.input('größe', [3]);
      const w = m.param('toString', [3], 'zeros');
      const v = m.param('重み', [3], 'zeros');
      return { loss: sumAll(mul(mul(x, w), mul(y, v))), predictions: { hasOwnProperty: mul(x, w) } };
    });
    const roles = Object.fromEntries(compiled.schedule.buffers.filter((b) => b.role !== 'temp').map((b) => [b.name, b.role]));
    expect(roles).toMatchObject({ constructor: 'data', größe: 'data', toString: 'param', 重み: 'param' });
    expect(compiled.spec.predictions).toEqual(['hasOwnProperty']);
  });

  it("reports a parameter that clashes with Adam's state at the parameter's line, naming both", () => {
    let line = 0;
    const build = (m: ModelContext) => {
      const a = m.param('a.b', [3], 'zeros');
      line = here(); const clash = m.param('a.b.m', [3], 'zeros');
      return { loss: sumAll(mul(a, clash)), predictions: {} };
    };
    const error = expectUserError(() => compile(build, adam({ learningRate: 0.1 })), () => line, /param "a.b.m"/);
    expect(error.message).toMatch(/state "a.b.m" that adam keeps for param "a.b"/);
    expect(error.loc?.file).not.toMatch(/^compiler\//);
  });

  it("reports a parameter that clashes with the state Nadam shares across parameters, at the parameter's line", () => {
    let line = 0;
    const build = (m: ModelContext) => {
      const w = m.param('w', [3], 'zeros');
      line = here(); const clash = m.param('nadam.momentumProduct', [3], 'zeros');
      return { loss: sumAll(mul(w, clash)), predictions: {} };
    };
    expectUserError(() => compile(build, nadam({ learningRate: 0.1 })), () => line, /param "nadam.momentumProduct" clashes with the state "nadam.momentumProduct" that nadam keeps/);
  });

  it("reports an input that clashes with momentum's velocity at the input's line", () => {
    let line = 0;
    const build = (m: ModelContext) => {
      line = here(); const x = m.input('w.velocity', [3]);
      const w = m.param('w', [3], 'zeros');
      return { loss: sumAll(mul(x, w)), predictions: {} };
    };
    expectUserError(() => compile(build, momentum({ learningRate: 0.1, momentum: 0.9 })), () => line, /input "w.velocity" clashes with the state "w.velocity" that momentum keeps for param "w"/);
  });
});

describe('what build returns', () => {
  it('refuses a build that returns nothing, at the defineModel line', () => {
    const line = here(); const definition = defineModel({ name: 'empty', batch: 2, optimizer: sgd({ learningRate: 1 }), build: (() => undefined) as unknown as Build });
    expectUserError(() => definition.declare(), line, /build\(\) returned undefined/);
  });

  it('refuses a loss that is not a tensor', () => {
    for (const loss of [3, 'loss', undefined, {}]) {
      const build = ((m: ModelContext) => ({ ...scalarModel(m, [1]), loss })) as unknown as Build;
      expectUserError(() => compile(build), undefined, /the loss must be a tensor/);
    }
  });

  it('refuses a prediction that is not a tensor', () => {
    for (const p of [3, { probs: 1 }, null, 'x']) {
      const build = ((m: ModelContext) => ({ ...scalarModel(m, [1]), predictions: { p } })) as unknown as Build;
      expectUserError(() => compile(build), undefined, /prediction "p" must be a tensor/);
    }
    const notObject = ((m: ModelContext) => ({ ...scalarModel(m, [1]), predictions: 3 })) as unknown as Build;
    expectUserError(() => compile(notObject), undefined, /predictions must be an object/);
  });

  it('refuses a loss or a prediction that depends on a gradient placeholder', () => {
    let line = 0;
    const build = (m: ModelContext) => {
      const x = m.input('x', [3]);
      const w = m.param('w', [3], 'zeros');
      line = here(); const g = m.gradOf(w);
      return { loss: sumAll(mul(x, w)), predictions: { g: mul(g, 2) } };
    };
    expectUserError(() => compile(build), () => line, /gradOf/);
  });

  it('refuses a tensor of another model', () => {
    let stale: Tensor | undefined;
    const first = model((m) => {
      stale = m.input('stale', [1]);
      return scalarModel(m, [1]);
    });
    first.declare();
    const second = (m: ModelContext) => ({ ...scalarModel(m, [1]), loss: sumAll(stale!) });
    expectUserError(() => compile(second), undefined, /another model/);
  });

  it("refuses huber's delta unless it is a positive number, at the line of the call", () => {
    for (const delta of [0, -1, Number.NaN, Infinity, '1']) {
      let line = 0;
      const build = (m: ModelContext) => {
        const x = m.input('x', [3]);
        const w = m.param('w', [3], 'zeros');
        line = here(); return { loss: huber(w, x, delta as number), predictions: {} };
      };
      expectUserError(() => compile(build), () => line, /huber: delta must be a positive number/);
    }
  });

  it('refuses class labels of sparseSoftmaxCrossEntropy that are not one per row, at the line of the call', () => {
    for (const shape of [[4, 2], [3], [4, 1, 1]]) {
      let line = 0;
      const build = (m: ModelContext) => {
        const labels = m.input('labels', shape);
        const logits = dense(m, 'fc', m.input('x', [4, 2]), 3);
        line = here(); return { loss: sparseSoftmaxCrossEntropy(logits, labels as never), predictions: {} };
      };
      expectUserError(() => compile(build), () => line, /sparseSoftmaxCrossEntropy: labels must have shape \[4\] or \[4, 1\] .*got \[/);
    }
  });

  it('refuses a non-tensor operand to a DSL function', () => {
    let line = 0;
    const build = (m: ModelContext) => {
      line = here(); relu('x' as never);
      return scalarModel(m, [1]);
    };
    expectUserError(() => compile(build), () => line, /tensor/);
    const mm = (m: ModelContext) => {
      const x = m.input('x', [2, 2]);
      line = here(); matmul(3 as never, x);
      return scalarModel(m, [1]);
    };
    expectUserError(() => compile(mm), () => line, /matmul/);
  });
});

describe('seeds, batches and optimizer options', () => {
  it('refuses a seed outside the integers of [0, 2^32)', () => {
    for (const seed of [-1, 1.5, 2 ** 32, Number.NaN]) {
      const line = here(); const f = () => defineModel({ name: 's', batch: 1, seed, optimizer: sgd({ learningRate: 1 }), build: (m) => scalarModel(m, [1]) });
      expectUserError(f, line, /seed .*integer in \[0, 2\^32\)/);
    }
    for (const seed of [0, 2 ** 32 - 1]) {
      expect(defineModel({ name: 's', batch: 1, seed, optimizer: sgd({ learningRate: 1 }), build: (m) => scalarModel(m, [1]) }).seed).toBe(seed);
    }
    const ok = defineModel({ name: 's', batch: 1, optimizer: sgd({ learningRate: 1 }), build: (m) => scalarModel(m, [1]) });
    expect(() => ok.declare({ seed: 2 ** 32 })).toThrow(GradcError);
  });

  it('refuses optimizer options that are not finite numbers, at the optimizer line', () => {
    let line = here(); expectUserError(() => sgd({ learningRate: Number.NaN }), line, /learningRate/);
    line = here(); expectUserError(() => adam({ learningRate: 0.1, beta1: Infinity }), line, /beta1/);
    line = here(); expectUserError(() => momentum({ learningRate: 0.1, momentum: '0.9' as never }), line, /momentum/);
    line = here(); expectUserError(() => sgd({ learningRate: 0.1, clipValue: -1 }), line, /clipValue/);
  });

  it('refuses clipping, penalties and the new optimizers\' options out of range, at the optimizer line', () => {
    let line = here(); expectUserError(() => sgd({ learningRate: 0.1, clipNorm: 0 }), line, /: clipNorm must be a positive number, got 0$/);
    line = here(); expectUserError(() => momentum({ learningRate: 0.1, momentum: 0.9, l1: -0.5 }), line, /: l1 must be a number >= 0, got -0.5$/);
    line = here(); expectUserError(() => adagrad({ learningRate: 0.1, initialAccumulator: -1 }), line, /: initialAccumulator must be a number >= 0/);
    line = here(); expectUserError(() => adagrad({ learningRate: 0.1, epsilon: Number.NaN }), line, /: epsilon must be a number >= 0/);
    line = here(); expectUserError(() => rmsprop({ learningRate: 0.1, rho: 1 }), line, /: rho must be a number in \[0, 1\), got 1$/);
    line = here(); expectUserError(() => rmsprop({ learningRate: 0.1, momentum: -0.1 }), line, /: momentum must be a number in \[0, 1\)/);
    line = here(); expectUserError(() => rmsprop(undefined as never), line, /: rmsprop takes an options object/);
    line = here(); expectUserError(() => nadam({ learningRate: 0.1, beta2: 1 }), line, /: beta2 must be a number in \[0, 1\)/);
    line = here(); expectUserError(() => nadam({ learningRate: 0.1, clipNorm: Infinity }), line, /: clipNorm must be a positive number/);
    line = here(); expectUserError(() => adamw({ learningRate: 0.1 } as never), line, /: weightDecay must be a number >= 0, got undefined/);
    line = here(); expectUserError(() => adamw({ learningRate: 0.1, weightDecay: -0.01 }), line, /: weightDecay must be a number >= 0/);
    line = here(); expectUserError(() => adamw({ learningRate: 0.1, weightDecay: 0.01, beta1: 1.5 }), line, /: beta1 must be a number in \[0, 1\)/);
    line = here(); expectUserError(() => newtonCg({ cgIterations: 2.5 }), line, /: cgIterations must be a positive integer, got 2.5$/);
    line = here(); expectUserError(() => newtonCg({ cgIterations: 0 }), line, /: cgIterations must be a positive integer, got 0$/);
    line = here(); expectUserError(() => newtonCg({ damping: -1e-3 }), line, /: damping must be a number >= 0/);
    line = here(); expectUserError(() => newtonCg({ learningRate: Number.NaN }), line, /: learningRate must be a finite number/);
  });

  it('refuses Hessian-vector products outside an optimizer, at the line that asks', () => {
    let line = 0;
    const build = (m: ModelContext) => {
      const outputs = scalarModel(m, [2]);
      line = here(); m.hessianTimes(m.gradients());
      return outputs;
    };
    expectUserError(() => compile(build), () => line, /hessianTimes is for optimizers/);
  });

  it('refuses options that are not a model declaration', () => {
    let line = here(); expectUserError(() => defineModel(undefined as never), line, /defineModel/);
    line = here(); expectUserError(() => defineModel({ name: 'x', batch: 1, optimizer: sgd({ learningRate: 1 }) } as never), line, /build/);
    line = here(); expectUserError(() => defineModel({ name: 'x', batch: 1, optimizer: {}, build: () => undefined } as never), line, /optimizer/);
    line = here(); expectUserError(() => defineModel({ name: undefined, batch: 1, optimizer: sgd({ learningRate: 1 }), build: () => undefined } as never), line, /model name/);
  });
});

describe('a parameter that never reaches the loss', () => {
  it('gets a warning naming it and its declaration line', () => {
    let line = 0;
    const compiled = compile((m) => {
      const x = m.input('x', [2, 3]);
      const y = m.input('y', [2, 4]);
      const h = relu(dense(m, 'fc', x, 4));
      line = here(); const unused = m.param('unused', [4], 'zeros');
      const stopped = m.param('stopped', [4], 'zeros');
      return {
        loss: softmaxCrossEntropy(h, y),
        predictions: { probs: softmax(h), other: mul(unused, 2), s: mul(stopped, 1) },
      };
    });
    expect(compiled.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/param "unused" never reaches the loss/),
      expect.stringMatching(/param "stopped" never reaches the loss/),
    ]);
    expect(compiled.warnings[0].loc).toMatchObject({ file: THIS_FILE, line });
  });

  it('gives no warning when every parameter reaches the loss', () => {
    expect(compile((m) => scalarModel(m, [3])).warnings).toEqual([]);
  });
});
