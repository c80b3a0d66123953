/**
 * Optimizers, written in the DSL: each declares its state and hyperparameters and assigns the
 * value every parameter takes after a step. The learning rate is the hyperparameter `lr`, fed
 * every step so that schedules run on the host without recompiling. Every optimizer starts
 * from the same gradient (`learningRateAndGradient`): the loss's gradient clipped by value,
 * then by the global norm of all gradients, plus the L2 and L1 penalties' gradients.
 */
import type { SourceLoc } from '../ir/types.ts';
import { GradcError } from '../ir/errors.ts';
import { describeOption, describeValue } from '../ir/limits.ts';
import type { Shape } from './shape.ts';
import { callerLoc } from './loc.ts';
import { LR_HYPER } from './spec.ts';
import type { Tensor } from './tensor.ts';
import type { ModelContext } from './model.ts';
import { neg, sign, sqrt, square, sumAll, where } from './ops.ts';
import { add, div, less, maximum, mul, pow, sub } from './prim.ts';

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

/** Options every optimizer takes: the learning rate, gradient clipping and the L2 and L1 penalties. */
export interface SgdOptions {
  readonly learningRate: number;
  /** Clip each gradient element into [-clipValue, clipValue]. */
  readonly clipValue?: number;
  /**
   * Clip by global norm: every gradient times min(1, clipNorm / ||g||), where ||g|| is the L2
   * norm of all parameters' gradients together (each clipped by value first).
   */
  readonly clipNorm?: number;
  /** L2 regularisation (weight decay) coefficient: adds weightDecay * p to the gradient. */
  readonly weightDecay?: number;
  /** L1 regularisation coefficient: adds l1 * sign(p) to the gradient. */
  readonly l1?: number;
}

/** Clips each gradient element into [-clip, clip] when `clip` is given. */
function clippedByValue(grad: T, clip: number | undefined): T {
  if (clip === undefined) return grad;
  return neg(maximum(neg(maximum(grad, -clip)), -clip)) as T;
}

/** The L2 norm of all parameters' gradients together, each clipped by value first. */
function globalNorm(m: ModelContext, clipValue: number | undefined): T {
  const squares: T[] = m.gradients().map((g) => sumAll(square(clippedByValue(g, clipValue))));
  return sqrt(squares.reduce((total, s) => add(total, s) as T));
}

/**
 * `grad` times min(1, clipNorm / global norm) when `clipNorm` is given, written
 * clipNorm / max(norm, clipNorm) so that a zero norm divides nothing by zero. Every parameter's
 * update builds the same norm nodes, which the graph builder interns: one norm per step.
 */
function clippedByNorm(m: ModelContext, grad: T, clipNorm: number | undefined, clipValue: number | undefined): T {
  if (clipNorm === undefined) return grad;
  return mul(grad, div(clipNorm, maximum(globalNorm(m, clipValue), clipNorm))) as T;
}

/** The gradient plus those of the penalties: weightDecay * p (L2) and l1 * sign(p) (L1). */
function regularised(grad: T, param: T, weightDecay: number | undefined, l1: number | undefined): T {
  const withL2 = weightDecay ? (add(grad, mul(param, weightDecay)) as T) : grad;
  return l1 ? (add(withL2, mul(sign(param), l1)) as T) : withL2;
}

/** What every optimizer starts from: the fed learning rate and the clipped, regularised gradient. */
function learningRateAndGradient(m: ModelContext, param: T, grad: T, options: SgdOptions): { lr: T; g: T } {
  const lr = m.hyper(LR_HYPER, options.learningRate);
  const clipped = clippedByNorm(m, clippedByValue(grad, options.clipValue), options.clipNorm, options.clipValue);
  return { lr, g: regularised(clipped, param, options.weightDecay, options.l1) };
}

type NumberRule = 'finite' | 'positive' | 'nonNegative' | 'unit' | 'count';
type Rules = Readonly<Record<string, readonly [NumberRule, boolean]>>;

/** Whether a finite number obeys `rule`. */
function obeys(value: number, rule: NumberRule): boolean {
  switch (rule) {
    case 'finite': return true;
    case 'positive': return value > 0;
    case 'nonNegative': return value >= 0;
    case 'unit': return value >= 0 && value < 1;
    case 'count': return Number.isSafeInteger(value) && value > 0;
  }
}

/**
 * Checks an optimizer's options where the user wrote them: every option a finite number,
 * `clipValue` and `clipNorm` positive, `weightDecay`, `l1`, `epsilon` and `initialAccumulator`
 * not negative, the decays (Adam's and Nadam's betas, RMSprop's rho and momentum) in [0, 1),
 * counts (Newton-CG's iterations) positive integers.
 */
function checkOptions(optimizer: string, loc: SourceLoc | undefined, options: unknown, rules: Rules): void {
  if (typeof options !== 'object' || options === null) {
    throw new GradcError(`${optimizer} takes an options object, got ${describeValue(options)}`, loc);
  }
  const values = options as Record<string, unknown>;
  for (const [key, [rule, required]] of Object.entries(rules)) {
    const value = values[key];
    if (value === undefined && !required) continue;
    const ok = typeof value === 'number' && Number.isFinite(value) && obeys(value, rule);
    if (!ok) {
      const what = {
        finite: 'a finite number', positive: 'a positive number', nonNegative: 'a number >= 0', unit: 'a number in [0, 1)',
        count: 'a positive integer',
      }[rule];
      throw new GradcError(`${key} must be ${what}, got ${describeOption(value)}`, loc);
    }
  }
}

const SGD_RULES: Rules = {
  learningRate: ['finite', true],
  clipValue: ['positive', false],
  clipNorm: ['positive', false],
  weightDecay: ['nonNegative', false],
  l1: ['nonNegative', false],
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

/** lr g / sqrt(meanSquare + epsilon): AdaGrad's and RMSprop's step, epsilon under the root. */
function rootScaledStep(lr: T, g: T, meanSquare: T, epsilon: number): T {
  return div(mul(lr, g), sqrt(add(meanSquare, epsilon) as T)) as T;
}

/** Options of `adagrad`: epsilon and the accumulator's starting value. */
export interface AdagradOptions extends SgdOptions {
  /** Added to the accumulated squares under the square root (default 1e-7). */
  readonly epsilon?: number;
  /** The accumulator's starting value (default 0.1). */
  readonly initialAccumulator?: number;
}

/**
 * AdaGrad: r <- r + g^2; p <- p - lr g / sqrt(r + epsilon), elementwise, r the state
 * `<param>.accumulator`. Epsilon sits under the root as the training texts write it and Keras
 * computes it. The accumulator starts at 0.1 as in Keras's Adagrad, which the reference
 * experiment ran; `initialAccumulator: 0` gives the texts' r <- 0.
 */
export function adagrad(options: AdagradOptions): Optimizer {
  const loc = callerLoc('adagrad');
  checkOptions('adagrad', loc, options, {
    ...SGD_RULES,
    epsilon: ['nonNegative', false],
    initialAccumulator: ['nonNegative', false],
  });
  const epsilon = options.epsilon ?? 1e-7;
  const initialAccumulator = options.initialAccumulator ?? 0.1;
  return {
    name: 'adagrad',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      const r = m.state(`${paramName(m, param)}.accumulator`, param.shape, initialAccumulator);
      const rNew = add(r, mul(g, g)) as T;
      m.assign(r, rNew);
      m.assign(param, sub(param, rootScaledStep(lr, g, rNew, epsilon)) as T);
    },
  };
}

/** Options of `rmsprop`: the decay rho, epsilon and momentum. */
export interface RmspropOptions extends SgdOptions {
  /** The decay of the mean square (default 0.9). */
  readonly rho?: number;
  /** Added to the mean square under the square root (default 1e-7). */
  readonly epsilon?: number;
  /** Momentum of the step (default 0: none). */
  readonly momentum?: number;
}

/**
 * RMSprop: s <- rho s + (1 - rho) g^2; p <- p - lr g / sqrt(s + epsilon), s the state
 * `<param>.meanSquare`, epsilon under the root as in the training texts and Keras. With
 * `momentum` the step goes through a velocity as Keras does it: v <- momentum v +
 * lr g / sqrt(s + epsilon); p <- p - v (the state `<param>.velocity`).
 */
export function rmsprop(options: RmspropOptions): Optimizer {
  const loc = callerLoc('rmsprop');
  checkOptions('rmsprop', loc, options, {
    ...SGD_RULES,
    rho: ['unit', false],
    epsilon: ['nonNegative', false],
    momentum: ['unit', false],
  });
  const rho = options.rho ?? 0.9;
  const epsilon = options.epsilon ?? 1e-7;
  const momentumDecay = options.momentum ?? 0;
  return {
    name: 'rmsprop',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      const name = paramName(m, param);
      const s = m.state(`${name}.meanSquare`, param.shape, 0);
      const sNew = add(mul(s, rho), mul(mul(g, g), 1 - rho)) as T;
      m.assign(s, sNew);
      const step = rootScaledStep(lr, g, sNew, epsilon);
      if (momentumDecay === 0) {
        m.assign(param, sub(param, step) as T);
        return;
      }
      const v = m.state(`${name}.velocity`, param.shape, 0);
      const vNew = add(mul(v, momentumDecay), step) as T;
      m.assign(v, vNew);
      m.assign(param, sub(param, vNew) as T);
    },
  };
}

/** Options of `adam`: the moment decays beta1, beta2 and epsilon. */
export interface AdamOptions extends SgdOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

const ADAM_RULES: Rules = {
  ...SGD_RULES,
  beta1: ['unit', false],
  beta2: ['unit', false],
  epsilon: ['nonNegative', false],
};

/** Adam's hyperparameters with defaults filled in. */
interface Moments {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** Adam's and AdamW's defaults: beta1 0.9, beta2 0.999, epsilon 1e-8. */
function adamMoments(options: AdamOptions): Moments {
  return { beta1: options.beta1 ?? 0.9, beta2: options.beta2 ?? 0.999, epsilon: options.epsilon ?? 1e-8 };
}

/**
 * The moving averages of g and g^2, updated: m <- beta1 m + (1 - beta1) g and
 * v <- beta2 v + (1 - beta2) g^2, the states `<param>.m` and `<param>.v`.
 */
function movingMoments(m: ModelContext, param: T, g: T, { beta1, beta2 }: Moments): { first: T; second: T } {
  const name = paramName(m, param);
  const first = m.state(`${name}.m`, param.shape, 0);
  const second = m.state(`${name}.v`, param.shape, 0);
  const firstNew = add(mul(first, beta1), mul(g, 1 - beta1)) as T;
  const secondNew = add(mul(second, beta2), mul(mul(g, g), 1 - beta2)) as T;
  m.assign(first, firstNew);
  m.assign(second, secondNew);
  return { first: firstNew, second: secondNew };
}

/** mHat / (sqrt(vHat) + epsilon), vHat = v / (1 - beta2^t): the step Adam and Nadam scale by lr. */
function adaptiveDirection(mHat: T, second: T, t: T, { beta2, epsilon }: Moments): T {
  const vHat = div(second, sub(1, pow(beta2, t))) as T;
  return div(mHat, add(sqrt(vHat), epsilon)) as T;
}

/** Adam's direction with bias correction at step t (the step count, a state shared by all parameters). */
function adamDirection(m: ModelContext, param: T, g: T, moments: Moments): T {
  const t = add(m.stepCounter(), 1) as T;
  const { first, second } = movingMoments(m, param, g, moments);
  const mHat = div(first, sub(1, pow(moments.beta1, t))) as T;
  return adaptiveDirection(mHat, second, t, moments);
}

/**
 * Adam with bias correction: p <- p - lr mHat / (sqrt(vHat) + epsilon); the step count is a
 * state shared by all parameters.
 */
export function adam(options: AdamOptions): Optimizer {
  const loc = callerLoc('adam');
  checkOptions('adam', loc, options, ADAM_RULES);
  const moments = adamMoments(options);
  return {
    name: 'adam',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      m.assign(param, sub(param, mul(lr, adamDirection(m, param, g, moments))) as T);
    },
  };
}

/** Options of `adamw`: Adam's, with `weightDecay` decoupled from the gradient. */
export interface AdamwOptions extends Omit<AdamOptions, 'weightDecay'> {
  /** Decoupled weight decay: p <- p - lr (adam's direction + weightDecay p). */
  readonly weightDecay: number;
}

/**
 * AdamW (Loshchilov and Hutter): Adam whose weight decay shrinks the parameter directly,
 * p <- p - lr (mHat / (sqrt(vHat) + epsilon) + weightDecay p), instead of joining the gradient
 * as the L2 `weightDecay` of the other optimizers does (which Adam's scaling would distort).
 * Defaults as `adam`'s, so that weightDecay 0 is Adam.
 */
export function adamw(options: AdamwOptions): Optimizer {
  const loc = callerLoc('adamw');
  checkOptions('adamw', loc, options, { ...ADAM_RULES, weightDecay: ['nonNegative', true] });
  const moments = adamMoments(options);
  const { weightDecay, ...gradientOptions } = options;
  return {
    name: 'adamw',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, gradientOptions);
      const direction = adamDirection(m, param, g, moments);
      m.assign(param, sub(param, mul(lr, add(direction, mul(param, weightDecay)))) as T);
    },
  };
}

/** The state Nadam keeps for all parameters: the product of the momentum schedule so far. */
const NADAM_PRODUCT_STATE = 'nadam.momentumProduct';

/** Nadam's momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^t) at step t. */
function nadamMomentum(beta1: number, t: T): T {
  return mul(beta1, sub(1, mul(0.5, pow(0.96, t)))) as T;
}

/**
 * Nadam (Dozat, "Incorporating Nesterov momentum into Adam"), as Keras computes it: Adam whose
 * first moment looks one step ahead under the momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^t):
 * with m and v as Adam's,
 *   mHat = mu_{t+1} m / (1 - mu_1 ... mu_{t+1}) + (1 - mu_t) g / (1 - mu_1 ... mu_t),
 *   p <- p - lr mHat / (sqrt(v / (1 - beta2^t)) + epsilon).
 * The training texts name Nadam (Adam with Nesterov momentum) without a formula. The product
 * mu_1 ... mu_t is one state for all parameters (`nadam.momentumProduct`). Defaults as
 * Keras's: beta1 0.9, beta2 0.999, epsilon 1e-7.
 */
export function nadam(options: AdamOptions): Optimizer {
  const loc = callerLoc('nadam');
  checkOptions('nadam', loc, options, ADAM_RULES);
  const moments: Moments = { ...adamMoments(options), epsilon: options.epsilon ?? 1e-7 };
  return {
    name: 'nadam',
    loc,
    update(m, param, grad) {
      const { lr, g } = learningRateAndGradient(m, param, grad, options);
      const t = add(m.stepCounter(), 1) as T;
      const mu = nadamMomentum(moments.beta1, t);
      const muNext = nadamMomentum(moments.beta1, add(t, 1) as T);
      const advance = (product: T) => mul(product, mu) as T;
      const product = advance(m.sharedState(NADAM_PRODUCT_STATE, [], 1, advance));
      const productNext = mul(product, muNext) as T;
      const { first, second } = movingMoments(m, param, g, moments);
      const mHat = add(div(mul(first, muNext), sub(1, productNext)), div(mul(g, sub(1, mu)), sub(1, product))) as T;
      m.assign(param, sub(param, mul(lr, adaptiveDirection(mHat, second, t, moments))) as T);
    },
  };
}

/** Options of `newtonCg`: the step's scale, the conjugate-gradient iterations and the damping. */
export interface NewtonCgOptions {
  /** Scales the Newton step: p <- p + learningRate d (default 1, the full step). */
  readonly learningRate?: number;
  /** Conjugate-gradient iterations per step, unrolled in the graph (default 10). */
  readonly cgIterations?: number;
  /** Added to the Hessian's diagonal: the step solves (H + damping I) d = -g (default 1e-4). */
  readonly damping?: number;
}

/** A vector of all parameters, one block (tensor) per parameter in declaration order. */
type Blocks = readonly T[];

/** The inner product of two block vectors: a scalar. */
function dot(a: Blocks, b: Blocks): T {
  return a.map((block, i) => sumAll(mul(block, b[i])) as T).reduce((total, term) => add(total, term) as T);
}

/** x + alpha y, blockwise, alpha a scalar. */
function plusScaled(x: Blocks, alpha: T, y: Blocks): T[] {
  return x.map((block, i) => add(block, mul(alpha, y[i])) as T);
}

/**
 * A denominator at or below this ends conjugate gradients: the curvature along the search
 * direction is not positive (or the residual is zero), so the ratio is not taken.
 */
const CG_TINY = 1e-30;

/** num / den where den > CG_TINY, else 0 (never a division by zero). */
function ratioOrZero(num: T, den: T, active: T): T {
  return where(active, div(num, maximum(den, CG_TINY)), 0) as T;
}

/**
 * Solves A x = rhs approximately by `iterations` conjugate-gradient iterations from x = 0,
 * unrolled (A symmetric, applied by `applyA`). Safeguards as truncated Newton's (Nocedal and
 * Wright, Algorithm 7.1): where the curvature p·Ap of a search direction is not positive, the
 * iterations stop and keep x, or at the first one return x = rhs (the steepest-descent step
 * when rhs is -g). A solved system stops the same way (p = 0), so no ratio divides by zero.
 */
function conjugateGradient(applyA: (v: Blocks) => T[], rhs: Blocks, iterations: number): T[] {
  let x: T[] = [];
  let r: Blocks = rhs;
  let p: Blocks = rhs;
  let rs = dot(r, r);
  let running: T | undefined;
  for (let j = 0; j < iterations; j++) {
    const ap = applyA(p);
    const curvature = dot(p, ap);
    const curved = less(CG_TINY, curvature) as T;
    const active = running === undefined ? curved : (mul(running, curved) as T);
    const alpha = ratioOrZero(rs, curvature, active);
    x = running === undefined ? p.map((block) => where(curved, mul(alpha, block), block) as T) : plusScaled(x, alpha, p);
    if (j === iterations - 1) break;
    r = plusScaled(r, neg(alpha) as T, ap);
    const rsNext = dot(r, r);
    p = plusScaled(r, ratioOrZero(rsNext, rs, active), p);
    rs = rsNext;
    running = active;
  }
  return x;
}

/**
 * The Newton-CG direction d for all parameters jointly: (H + damping I) d = -g solved by
 * `conjugateGradient`, each H v a Hessian-vector product (`m.hessianTimes`). Every
 * parameter's update builds the same nodes, which the graph builder interns: one solve per step.
 */
function newtonDirection(m: ModelContext, iterations: number, damping: number): T[] {
  const dampedHessianTimes = (v: Blocks): T[] =>
    m.hessianTimes(v).map((hv, i) => (damping === 0 ? hv : (add(hv, mul(v[i], damping)) as T)));
  return conjugateGradient(dampedHessianTimes, m.gradients().map((g) => neg(g) as T), iterations);
}

/**
 * Newton-CG (truncated Newton): each step solves (H + damping I) d = -g for all parameters
 * jointly, H the Hessian of the loss, by `cgIterations` conjugate-gradient iterations whose
 * Hessian-vector products the compiler builds by differentiating the gradient again; then
 * p <- p + lr d. The training texts' Newton step W <- W - H^-1 grad J, without forming or
 * inverting H. The loss carries any penalty (no clipping or weight decay options): the
 * Hessian then sees it too.
 */
export function newtonCg(options: NewtonCgOptions = {}): Optimizer {
  const loc = callerLoc('newtonCg');
  checkOptions('newtonCg', loc, options, {
    learningRate: ['finite', false],
    cgIterations: ['count', false],
    damping: ['nonNegative', false],
  });
  const learningRate = options.learningRate ?? 1;
  const iterations = options.cgIterations ?? 10;
  const damping = options.damping ?? 1e-4;
  return {
    name: 'newtonCg',
    loc,
    update(m, param) {
      const lr = m.hyper(LR_HYPER, learningRate);
      const index = m.params.findIndex((p) => p.name === paramName(m, param));
      const direction = newtonDirection(m, iterations, damping)[index];
      m.assign(param, add(param, mul(lr, direction)) as T);
    },
  };
}
