/**
 * Optimizers, written in the DSL: each declares its state and hyperparameters and assigns the
 * value every parameter takes after a step. The learning rate is the hyperparameter `lr`, fed
 * every step so that schedules run on the host without recompiling.
 */
import type { SourceLoc } from '../compiler/ir/types.ts';
import { GradcError } from '../compiler/errors.ts';
import { describeValue } from '../compiler/ir/limits.ts';
import type { Shape } from './shape.ts';
import { callerLoc } from './loc.ts';
import { LR_HYPER } from './spec.ts';
import type { Tensor } from './tensor.ts';
import type { ModelContext } from './model.ts';
import { neg, sqrt } from './ops.ts';
import { add, div, maximum, mul, pow, sub } from './prim.ts';

/** An optimizer: DSL code that updates each parameter from its gradient (see `sgd`, `momentum`, `adam`). */
export interface Optimizer {
  readonly name: string;
  /** Where the user created the optimizer; its update nodes point there. */
  readonly loc: SourceLoc | undefined;
  /** Declares state and assigns the updated parameter (and state) in `m`. */
  update(m: ModelContext, param: Tensor<Shape>, grad: Tensor<Shape>): void;
}

type T = Tensor<Shape>;

function paramName(m: ModelContext, param: T): string {
  return m.graph.node(param.id).attrs.name as string;
}

/** Clips each gradient element into [-clip, clip] when `clip` is given. */
function clipped(grad: T, clip: number | undefined): T {
  if (clip === undefined) return grad;
  return neg(maximum(neg(maximum(grad, -clip)), -clip)) as T;
}

/** Options every optimizer takes: the learning rate, clipping by value and L2 weight decay. */
export interface SgdOptions {
  readonly learningRate: number;
  /** Clip gradients by value. */
  readonly clipValue?: number;
  /** L2 regularisation (weight decay) coefficient. */
  readonly weightDecay?: number;
}

function regularised(grad: T, param: T, weightDecay: number | undefined): T {
  return weightDecay ? (add(grad, mul(param, weightDecay)) as T) : grad;
}

/** What every optimizer starts from: the fed learning rate and the clipped, regularised gradient. */
function learningRateAndGradient(m: ModelContext, param: T, grad: T, options: SgdOptions): { lr: T; g: T } {
  const lr = m.hyper(LR_HYPER, options.learningRate);
  return { lr, g: regularised(clipped(grad, options.clipValue), param, options.weightDecay) };
}

type NumberRule = 'finite' | 'positive' | 'nonNegative' | 'unit';

/**
 * Checks an optimizer's options where the user wrote them: every option a finite number,
 * `clipValue` positive, `weightDecay` and `epsilon` not negative, Adam's betas in [0, 1).
 */
function checkOptions(optimizer: string, loc: SourceLoc | undefined, options: unknown, rules: Record<string, [NumberRule, boolean]>): void {
  if (typeof options !== 'object' || options === null) {
    throw new GradcError(`${optimizer} takes an options object, got ${describeValue(options)}`, loc);
  }
  const values = options as Record<string, unknown>;
  for (const [key, [rule, required]] of Object.entries(rules)) {
    const value = values[key];
    if (value === undefined && !required) continue;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (rule === 'finite' || (rule === 'positive' ? value > 0 : value >= 0 && (rule !== 'unit' || value < 1)));
    if (!ok) {
      const what = { finite: 'a finite number', positive: 'a positive number', nonNegative: 'a number >= 0', unit: 'a number in [0, 1)' }[rule];
      throw new GradcError(`${key} must be ${what}, got ${typeof value === 'number' ? value : describeValue(value)}`, loc);
    }
  }
}

const SGD_RULES: Record<string, [NumberRule, boolean]> = {
  learningRate: ['finite', true],
  clipValue: ['positive', false],
  weightDecay: ['nonNegative', false],
};

/** Plain (mini-batch) stochastic gradient descent: p <- p - lr g. */
export function sgd(options: SgdOptions): Optimizer {
  const loc = callerLoc('sgd');
  checkOptions('sgd', loc, options, SGD_RULES);
  return {
    name: 'sgd',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      m.assign(param, sub(param, mul(lr, g)) as T);
    },
  };
}

/** Options of `momentum`: the momentum coefficient and whether to use Nesterov's update. */
export interface MomentumOptions extends SgdOptions {
  readonly momentum: number;
  readonly nesterov?: boolean;
}

/** v <- mu v - lr g; p <- p + v (Nesterov: p <- p + mu v - lr g). */
export function momentum(options: MomentumOptions): Optimizer {
  const loc = callerLoc('momentum');
  checkOptions('momentum', loc, options, { ...SGD_RULES, momentum: ['finite', true] });
  return {
    name: options.nesterov ? 'nesterov' : 'momentum',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      const v = m.state(`${paramName(m, param)}.velocity`, param.shape, 0);
      const step = mul(lr, g) as T;
      const vNew = sub(mul(v, options.momentum), step) as T;
      m.assign(v, vNew);
      const delta = options.nesterov ? (sub(mul(vNew, options.momentum), step) as T) : vNew;
      m.assign(param, add(param, delta) as T);
    },
  };
}

/** Options of `adam`: the moment decays beta1, beta2 and epsilon. */
export interface AdamOptions extends SgdOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/** Adam with bias correction; the step count is a state shared by all parameters. */
export function adam(options: AdamOptions): Optimizer {
  const loc = callerLoc('adam');
  checkOptions('adam', loc, options, {
    ...SGD_RULES,
    beta1: ['unit', false],
    beta2: ['unit', false],
    epsilon: ['nonNegative', false],
  });
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  return {
    name: 'adam',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      const name = paramName(m, param);
      const t = add(m.stepCounter(), 1);
      const mom = m.state(`${name}.m`, param.shape, 0);
      const vel = m.state(`${name}.v`, param.shape, 0);
      const mNew = add(mul(mom, beta1), mul(g, 1 - beta1)) as T;
      const vNew = add(mul(vel, beta2), mul(mul(g, g), 1 - beta2)) as T;
      m.assign(mom, mNew);
      m.assign(vel, vNew);
      const mHat = div(mNew, sub(1, pow(beta1, t)));
      const vHat = div(vNew, sub(1, pow(beta2, t)));
      m.assign(param, sub(param, div(mul(lr, mHat), add(sqrt(vHat as T), epsilon))) as T);
    },
  };
}
