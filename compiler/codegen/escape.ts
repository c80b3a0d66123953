/**
 * How text that gradc did not write itself reaches generated code. The model's name, the model
 * file's path, the names of inputs, parameters, states, hyperparameters and predictions, and
 * the DSL locations and labels in each kernel's `sources` pass through exactly one of these
 * functions, chosen by the target language and the context the text lands in; nothing else
 * interpolates them. Generated C and CUDA C hold no string literals and WGSL has none, so user
 * text reaches those files in `//` comments only.
 *
 * Comments are for people: their text may change (line breaks become spaces). String and
 * template literals are exact: the value a module exports equals the text given. Identifiers
 * are made from text (sanitised and mangled), never interpolated.
 */

/** Unpaired UTF-16 surrogates, which no UTF-8 file can hold (writeFile would make them U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The bidirectional formatting controls, which make text display in another order than a
 * compiler reads it ("Trojan Source"; GCC's -Wbidi-chars warns about them).
 */
const BIDI_CONTROLS = '\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';

/**
 * Every line terminator of every target (LF, VT, FF, CR, NEL, LS, PS: JavaScript ends a `//`
 * comment at LF, CR, LS and PS, WGSL also at VT, FF and NEL, C at LF and CR), the other
 * control characters (NUL among them) and the bidirectional controls, in runs.
 */
const BREAKS_AND_CONTROLS = new RegExp(`[\\p{Cc}\\u2028\\u2029${BIDI_CONTROLS}]+`, 'gu');

/** Comment text on one line, printable: what both kinds of comment start from. */
function plainText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(BREAKS_AND_CONTROLS, ' ');
}

/**
 * Text for a `// ...` comment of JavaScript/TypeScript, C, CUDA C and WGSL, on one line.
 *
 * Protects against: a line terminator of any of the four languages ending the comment early
 * (the rest of the line would be code); control characters, unpaired surrogates and
 * bidirectional controls; a trailing backslash, or a backslash followed by trailing spaces,
 * which C and CUDA splice with the next line (continuing the comment over the code below);
 * `??/`, the trigraph of a backslash where trigraphs are on (the ISO modes of C before C23,
 * `-std=c11`; C++ before C++17), and so every `??`; and `*\/`, broken up so that the text is
 * safe inside a block comment too.
 * Trailing white space is removed.
 */
export function lineCommentText(text: string): string {
  let line = plainText(text)
    .replace(/\*\//g, '* /')
    .replace(/\?(?=\?)/g, '? ');
  // Trailing backslashes and the white space around them, until neither ends the line.
  for (let before = ''; before !== line; ) {
    before = line;
    line = line.trimEnd().replace(/\\+$/, '');
  }
  return line;
}

/**
 * Text for a JavaScript/TypeScript block or doc comment (`/* ... *\/`, `/** ... *\/`), on one
 * line (a doc comment's line breaks would need their ` * ` prefix).
 *
 * Protects against: `*\/` ending the comment (written `*\/`, as JSDoc does); a leading `/`
 * closing a comment opened with `/**` right before it (`/**\/`); line terminators, control
 * characters, unpaired surrogates and bidirectional controls.
 */
export function blockCommentText(text: string): string {
  return plainText(text).replace(/\*\//g, '*\\/').replace(/^\//, '\\/');
}

/**
 * Characters a string or template literal writes as `\uXXXX` although JavaScript would take
 * them raw: LS and PS (line terminators in ECMAScript before 2019 and in JSON-in-JS tools),
 * DEL and the C1 controls (NEL among them), the bidirectional controls and U+FEFF.
 */
const INVISIBLE = new RegExp(`[\\u007f-\\u009f\\u2028\\u2029\\ufeff${BIDI_CONTROLS}]`, 'g');

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * A JavaScript/TypeScript string literal whose value is exactly `text`.
 *
 * Protects against: quotes and backslashes (JSON.stringify escapes them, every control
 * character below U+0020 and unpaired surrogates); LS and PS, which JSON leaves raw and older
 * parsers take for line breaks; the other invisible characters of INVISIBLE.
 */
export function jsString(text: string): string {
  return JSON.stringify(text).replace(INVISIBLE, unicodeEscape);
}

/**
 * JSON data (the artifact) as a JavaScript/TypeScript expression, indented by two spaces, whose
 * value equals `value`. The strings inside are escaped as `jsString` escapes them (outside
 * strings JSON has no character that INVISIBLE matches). Protects against what `jsString` does,
 * and refuses a key `__proto__`, which an object literal takes for the object's prototype.
 */
export function jsValue(value: unknown): string {
  const json = JSON.stringify(value, refuseProtoKey, 2) as string | undefined;
  if (json === undefined) throw new Error('jsValue: the value has no JSON form');
  return json.replace(INVISIBLE, unicodeEscape);
}

function refuseProtoKey(key: string, value: unknown): unknown {
  if (key === '__proto__') {
    throw new Error('jsValue: an object literal cannot have a key "__proto__"');
  }
  return value;
}

const TEMPLATE_SPECIAL = new RegExp(
  `[\\\\\`$\\r]|${LONE_SURROGATE.source}|${INVISIBLE.source}`,
  'g',
);

/**
 * The text between the backquotes of a JavaScript/TypeScript template literal whose value is
 * exactly `text` (the WGSL of each kernel in kernels-wgsl).
 *
 * Protects against: a backquote ending the literal; `${` starting a substitution (every `$` is
 * escaped, so a `$` at the end cannot meet a `{` after it either); backslashes starting escapes
 * (and one at the end escaping the closing backquote); CR, which a template literal's value
 * turns into LF; unpaired surrogates, which a UTF-8 file cannot hold; the characters INVISIBLE
 * escapes in strings.
 */
export function templateLiteralText(text: string): string {
  return text.replace(TEMPLATE_SPECIAL, (char) =>
    char === '\r' ? '\\r' : char.length === 1 && /[\\`$]/.test(char) ? `\\${char}` : unicodeEscape(char),
  );
}

/**
 * An identifier in PascalCase made from `text`: its ASCII letters and digits, each run a word,
 * capitalised (`mnist-mlp` → `MnistMlp`). Text with no letter to start with gets `Model` in
 * front (`9x` → `Model9x`, `ü` → `Model`); a result in `avoid` (names the generated module
 * refers to, such as `Promise`) gets `Model` after it until it is free. Protects against text
 * that is no identifier (spaces, quotes, line breaks, a leading digit) and against shadowing
 * what the module uses. The result is valid in JavaScript, TypeScript, C, CUDA C and WGSL and
 * never one of their keywords, which start with a lower-case letter or an underscore.
 */
export function pascalCaseIdentifier(text: string, avoid: ReadonlySet<string> = new Set()): string {
  let name = text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
  if (!/^[A-Za-z]/.test(name)) name = `Model${name}`;
  while (avoid.has(name)) name = `${name}Model`;
  return name;
}
