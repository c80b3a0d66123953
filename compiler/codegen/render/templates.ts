/**
 * Loads the handlebars skeletons under templates/. A template gets a typed view-model and
 * uses only `{{name}}`, `{{{code}}}` (code the emitters produced) and `{{#each}}`; every
 * decision is made in TypeScript before it is called.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';

const TEMPLATE_ROOT = new URL('../../../templates/', import.meta.url);
const cache = new Map<string, (view: object) => string>();

/** The template at `templates/<path>`, compiled once; a missing view field is an error. */
export function template<View extends object>(path: string): (view: View) => string {
  let compiled = cache.get(path);
  if (!compiled) {
    const source = readFileSync(new URL(path, TEMPLATE_ROOT), 'utf8');
    const render = Handlebars.compile(source, { strict: true, noEscape: false });
    compiled = (view: object) => render(view);
    cache.set(path, compiled);
  }
  return compiled;
}
