/**
 * Support functions of generated modules (NaN-propagating maximum, Philox draws, float bits,
 * warp reductions, ...), each in a module only when its code calls it. The code that emits a
 * call records it (`SupportNeeds`): a language's emitters (a `maximum`, a `random` or a `stored`
 * node, a WGSL literal that is no finite number) record through the `support` of the language
 * the module is written in, and a renderer that picks a template calling one (CUDA's warp
 * reductions) records it where it picks. The module then includes what was recorded and what
 * that calls in turn (`supportCode`); nothing searches the emitted text.
 */
import type { EmitFn } from './language.ts';
import { template } from './templates.ts';

/** A support function of a generated module. */
export interface SupportFunction {
  /** The name its callers use. */
  readonly name: string;
  /** Its template; none for a function the module's fixed code always defines (C's `gradc_maximum`). */
  readonly template?: string;
  /** The support functions its own code calls. */
  readonly calls?: readonly string[];
}

/** The support functions the code of one module calls, as its emitters record them. */
export class SupportNeeds {
  private readonly used = new Set<string>();

  /** Records that emitted code calls support function `name`; returns `name`, for the call. */
  use(name: string): string {
    this.used.add(name);
    return name;
  }

  /** Whether emitted code calls `name`. */
  has(name: string): boolean {
    return this.used.has(name);
  }

  /** The names recorded, in the order first recorded. */
  get names(): readonly string[] {
    return [...this.used];
  }
}

/** An emitter of a call of support function `name`, which records the call when it writes it. */
export function supportCall(needs: SupportNeeds, name: string): EmitFn {
  return (args) => `${needs.use(name)}(${args.join(', ')})`;
}

/**
 * The code of the support functions `needs` records and of those they call in turn, rendered,
 * in `support` order (a function the module's fixed code defines renders to nothing). A
 * recorded name `support` does not list is an error: the module would call an undefined
 * function.
 */
export function supportCode(needs: SupportNeeds, support: readonly SupportFunction[]): string[] {
  const byName = new Map(support.map((s) => [s.name, s]));
  const included = new Set<string>();
  const pending = [...needs.names];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (included.has(name)) continue;
    const fn = byName.get(name);
    if (!fn) throw new Error(`generated code calls ${name}, which is no support function of its module`);
    included.add(name);
    pending.push(...(fn.calls ?? []));
  }
  return support.flatMap((s) => (included.has(s.name) && s.template ? [template<object>(s.template)({}).trimEnd()] : []));
}
