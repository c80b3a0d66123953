/**
 * A strict reader of well-formed XML for tests (elements, attributes, text, comments, an XML
 * declaration; no DTD, CDATA or processing instructions): it throws on what an XML parser
 * refuses (unclosed or mismatched tags, unquoted or repeated attributes, a raw `<` or a bare
 * `&` in text or a value, more than one root) and returns the element tree.
 */

/** An element: its name, attributes and children (elements and text, entities decoded). */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly (XmlElement | string)[];
}

const NAME = /[A-Za-z_:][\w.:-]*/y;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/y;
const DECODED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  if (raw.includes('<')) throw new Error(`XML: a raw "<" at ${at}`);
  for (let i = raw.indexOf('&'); i >= 0; i = raw.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(raw)) throw new Error(`XML: a bare "&" at ${at + i}`);
  }
  return raw.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|\w+);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return DECODED[e];
  });
}

/** Parses `text`, which must hold exactly one root element. */
export function parseXml(text: string): XmlElement {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at ${at}`);
  };
  const skipMisc = () => {
    for (;;) {
      at += /^\s*/.exec(text.slice(at))![0].length;
      if (text.startsWith('<!--', at)) {
        const end = text.indexOf('-->', at + 4);
        if (end < 0) fail('an unclosed comment');
        at = end + 3;
      } else if (text.startsWith('<?xml', at) && at === 0) {
        const end = text.indexOf('?>', at);
        if (end < 0) fail('an unclosed declaration');
        at = end + 2;
      } else return;
    }
  };
  const name = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(text) ?? fail('a name expected');
    at = NAME.lastIndex;
    return match[0];
  };
  const element = (): XmlElement => {
    if (text[at] !== '<') fail('"<" expected');
    at++;
    const tag = name();
    const attributes: Record<string, string> = {};
    for (;;) {
      const space = /^\s*/.exec(text.slice(at))![0].length;
      at += space;
      if (text.startsWith('/>', at)) {
        at += 2;
        return { name: tag, attributes, children: [] };
      }
      if (text[at] === '>') {
        at++;
        break;
      }
      if (space === 0) fail('a space expected before an attribute');
      const attribute = name();
      if (attribute in attributes) fail(`attribute ${attribute} repeated`);
      at += /^\s*=\s*/.exec(text.slice(at))?.[0].length ?? fail('"=" expected');
      const quote = text[at];
      if (quote !== '"' && quote !== "'") fail('a quoted value expected');
      const end = text.indexOf(quote, at + 1);
      if (end < 0) fail('an unclosed value');
      attributes[attribute] = decode(text.slice(at + 1, end), at + 1);
      at = end + 1;
    }
    const children: (XmlElement | string)[] = [];
    for (;;) {
      const next = text.indexOf('<', at);
      if (next < 0) fail(`</${tag}> expected`);
      if (next > at) children.push(decode(text.slice(at, next), at));
      at = next;
      if (text.startsWith('</', at)) {
        at += 2;
        if (name() !== tag) fail(`</${tag}> expected`);
        at += /^\s*/.exec(text.slice(at))![0].length;
        if (text[at] !== '>') fail('">" expected');
        at++;
        return { name: tag, attributes, children };
      }
      if (text.startsWith('<!--', at)) {
        skipMisc();
        continue;
      }
      children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (at !== text.length) fail('text after the root element');
  return root;
}

/** Every element under `root` (itself included) named `name`, in document order. */
export function elementsNamed(root: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const stack: XmlElement[] = [root];
  while (stack.length) {
    const e = stack.pop()!;
    if (e.name === name) found.push(e);
    for (let i = e.children.length - 1; i >= 0; i--) {
      const child = e.children[i];
      if (typeof child !== 'string') stack.push(child);
    }
  }
  return found;
}

/** The text inside an element, its descendants' included. */
export function textOf(element: XmlElement): string {
  return element.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}
