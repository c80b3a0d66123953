/**
 * Arbitrary strings for the escaping tests: full Unicode, UTF-16 code units (unpaired
 * surrogates included), and the pieces that end or break a comment, a string or a template
 * literal in some target language, mixed. The payloads assign `globalThis.__gradcInjected`,
 * which a test checks is still unset after importing what was generated.
 */
import fc from 'fast-check';

/** The global an injected payload sets. */
export const INJECTED = '__gradcInjected';

/** Text that runs code if a generated module interpolates it unescaped in some context. */
export const PAYLOADS: readonly string[] = [
  `*/ globalThis.${INJECTED} = 1; /*`,
  `\n globalThis.${INJECTED} = 1 //`,
  `\r globalThis.${INJECTED} = 1 //`,
  `\u2028 globalThis.${INJECTED} = 1 //`,
  `\u2029 globalThis.${INJECTED} = 1 //`,
  `"; globalThis.${INJECTED} = 1; "`,
  `'; globalThis.${INJECTED} = 1; '`,
  `\`; globalThis.${INJECTED} = 1; \``,
  `\${globalThis.${INJECTED} = 1}`,
  `\\\nglobalThis.${INJECTED} = 1;`,
  `??/\nglobalThis.${INJECTED} = 1;`,
];

const FRAGMENTS: readonly string[] = [
  '*/', '/*', '//', '/**', '*', '/', '`', '${', '$', '{', '}', '\\', '\\ ', '\\\t', '"', "'",
  '\n', '\r', '\r\n', '\u2028', '\u2029', '\u0085', '\u000b', '\f', '\0', '\t', '\u007f',
  '\ud800', '\udfff', '\ud83d\ude00', '??/', '??', '?', '\u202e', '\u2066', '\u200f', '\ufeff',
  '\u00a0', '\u3000', 'é', '</script>', '-->', '<!--', '#', '%', '%0A', '__proto__', ' ',
  ...PAYLOADS,
];

/** One UTF-16 code unit, an unpaired surrogate as likely as any other. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** A mix of fragments, any code points and any code units. */
export const nastyString: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...FRAGMENTS) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
      { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 6 }) },
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

/** Unpaired surrogates as U+FFFD: what a UTF-8 file name or file holds for them. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * A folder name the file system takes (no `/`, no NUL, at most 200 bytes, not `.` or `..`)
 * and that a test can import modules from (`?`, `#` and `%` make Vite's loader look for
 * another file; the command line takes them, see the CLI test).
 */
export const folderName: fc.Arbitrary<string> = nastyString
  .map((s) => wellFormed(s).replace(/[/\0?#%]/g, '_'))
  .filter((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= 200);
