/**
 * Support functions of generated modules (NaN-propagating maximum, Philox draws, warp
 * reductions, ...): each is in a module only when one of its kernels calls it.
 */
import { template } from './templates.ts';

/** A support function of a generated module: the name kernels call it by, its template. */
export interface SupportFunction {
  readonly name: string;
  readonly template: string;
}

/**
 * The support functions `code` calls, and those they call in turn, rendered, in `support`
 * order: each is in a module only when something in it calls it.
 */
export function supportFor(code: string, support: readonly SupportFunction[]): string[] {
  const texts = new Map(support.map((s) => [s.name, template<object>(s.template)({}).trimEnd()]));
  const used = new Set<string>();
  let scanned = code;
  for (let grew = true; grew; ) {
    grew = false;
    for (const { name } of support) {
      if (used.has(name) || !scanned.includes(`${name}(`)) continue;
      used.add(name);
      scanned += `\n${texts.get(name)}`;
      grew = true;
    }
  }
  return support.filter((s) => used.has(s.name)).map((s) => texts.get(s.name)!);
}
