/**
 * Writes docs/API.md: every export of each package entry point (gradc, gradc/runtime,
 * gradc/node, gradc/compiler, gradc/vite) with its signature and the first paragraph of its
 * doc comment, read from the sources with ts-morph. `npm run docs:api` writes the file;
 * test/api-docs.test.ts checks it is up to date and that every export has a doc comment.
 */
import { writeFileSync } from 'node:fs';
import { Node, Project } from 'ts-morph';
import type { ExportedDeclarations, JSDocableNode, SourceFile } from 'ts-morph';

export const API_FILE = 'docs/API.md';

interface Entry {
  readonly specifier: string;
  readonly file: string;
  readonly about: string;
}

const ENTRIES: readonly Entry[] = [
  { specifier: 'gradc', file: 'dsl/index.ts', about: 'The DSL a model file imports: tensors, operations, layers, losses, optimizers, `defineModel`.' },
  { specifier: 'gradc/runtime', file: 'runtime/index.ts', about: 'Runs generated models, in Node and in the browser: training, evaluation, prediction, data sets, checkpoints.' },
  { specifier: 'gradc/node', file: 'runtime/node.ts', about: 'The Node-only runtime: the native C, Dawn and CUDA backends, reading files, and opening a built model\'s folder.' },
  { specifier: 'gradc/compiler', file: 'compiler/index.ts', about: 'The compiler as a library: what `gradc build` runs.' },
  { specifier: 'gradc/vite', file: 'compiler/vite-plugin.ts', about: 'The Vite plugin that builds a page\'s models.' },
];

/** One documented export: its kind, name, signature and description. */
export interface ApiItem {
  readonly entry: string;
  readonly name: string;
  readonly kind: 'function' | 'class' | 'interface' | 'type' | 'const' | 'enum';
  readonly signature: string;
  readonly doc: string;
  readonly members: readonly { readonly signature: string; readonly doc: string }[];
}

/** The first paragraph of a node's doc comment, on one line. */
function docOf(node: Node): string {
  const docs = Node.isJSDocable(node) ? (node as unknown as JSDocableNode).getJsDocs() : [];
  const text = docs.at(-1)?.getDescription().trim() ?? '';
  return text.split(/\n\s*\n/)[0].replace(/\s+/g, ' ').trim();
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();
}

function functionSignature(name: string, node: Node): string {
  if (Node.isFunctionDeclaration(node) || Node.isMethodDeclaration(node) || Node.isMethodSignature(node)) {
    const typeParams = node.getTypeParameters().map((t) => t.getText());
    const params = node.getParameters().map((p) => p.getText()).join(', ');
    const returns = node.getReturnTypeNode()?.getText() ?? node.getReturnType().getText(node);
    return oneLine(`${name}${typeParams.length ? `<${typeParams.join(', ')}>` : ''}(${params}): ${returns}`);
  }
  return name;
}

function variableSignature(name: string, node: Node): string {
  if (!Node.isVariableDeclaration(node)) return name;
  const type = node.getTypeNode()?.getText() ?? node.getType().getText(node);
  return oneLine(`${name}: ${type}`);
}

/** Public methods and accessors of a class, with their docs. */
function classMembers(node: Node): ApiItem['members'] {
  if (!Node.isClassDeclaration(node)) return [];
  const members: { signature: string; doc: string }[] = [];
  for (const member of node.getMembers()) {
    if (Node.isConstructorDeclaration(member)) continue;
    // Private and protected members are not the API; an override (an error's `name`) repeats one.
    const hidden = ['private', 'protected', 'override'] as const;
    const isPublic = !(Node.isModifierable(member) && hidden.some((m) => member.hasModifier(m)));
    if (!isPublic || !('getName' in member)) continue;
    const name = (member as unknown as { getName(): string }).getName();
    if (name.startsWith('#')) continue;
    const isStatic = Node.isStaticable(member) && member.isStatic();
    const prefix = isStatic ? 'static ' : '';
    if (Node.isMethodDeclaration(member)) {
      members.push({ signature: `${prefix}${functionSignature(name, member)}`, doc: docOf(member) });
    } else if (Node.isGetAccessorDeclaration(member)) {
      members.push({ signature: oneLine(`${prefix}get ${name}(): ${member.getReturnType().getText(member)}`), doc: docOf(member) });
    } else if (Node.isPropertyDeclaration(member)) {
      members.push({ signature: oneLine(`${prefix}${member.isReadonly() ? 'readonly ' : ''}${name}`), doc: docOf(member) });
    }
  }
  return members;
}

function itemOf(entry: string, name: string, node: ExportedDeclarations): ApiItem {
  const base = { entry, name, doc: docOf(Node.isVariableDeclaration(node) ? node.getVariableStatementOrThrow() : node) };
  if (Node.isFunctionDeclaration(node)) return { ...base, kind: 'function', signature: functionSignature(name, node), members: [] };
  if (Node.isClassDeclaration(node)) return { ...base, kind: 'class', signature: `class ${name}`, members: classMembers(node) };
  if (Node.isInterfaceDeclaration(node)) return { ...base, kind: 'interface', signature: `interface ${name}`, members: [] };
  if (Node.isTypeAliasDeclaration(node)) return { ...base, kind: 'type', signature: `type ${name}`, members: [] };
  if (Node.isEnumDeclaration(node)) return { ...base, kind: 'enum', signature: `enum ${name}`, members: [] };
  return { ...base, kind: 'const', signature: variableSignature(name, node), members: [] };
}

/** Every export of every entry point, sorted by entry point then name. */
export function apiItems(project = new Project({ tsConfigFilePath: 'tsconfig.json', skipAddingFilesFromTsConfig: true })): ApiItem[] {
  const items: ApiItem[] = [];
  for (const entry of ENTRIES) {
    const file: SourceFile = project.addSourceFileAtPath(entry.file);
    const exported = [...file.getExportedDeclarations()].sort(([a], [b]) => a.localeCompare(b));
    for (const [name, nodes] of exported) items.push(itemOf(entry.specifier, name, nodes[0]));
  }
  return items;
}

const KIND_ORDER = ['function', 'class', 'const', 'interface', 'type', 'enum'] as const;
const KIND_HEADING: Readonly<Record<ApiItem['kind'], string>> = {
  function: 'Functions',
  class: 'Classes',
  const: 'Constants',
  interface: 'Interfaces',
  type: 'Types',
  enum: 'Enums',
};

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderApi(items: readonly ApiItem[]): string {
  const lines = [
    '# gradc API',
    '',
    'Every export of the package, by entry point, with its signature and what it does. Generated',
    'from the doc comments of the sources by `npm run docs:api` (a test checks it is current).',
    '',
  ];
  for (const entry of ENTRIES) {
    lines.push(`## \`${entry.specifier}\``, '', entry.about, '');
    const mine = items.filter((i) => i.entry === entry.specifier);
    for (const kind of KIND_ORDER) {
      const ofKind = mine.filter((i) => i.kind === kind);
      if (ofKind.length === 0) continue;
      lines.push(`### ${KIND_HEADING[kind]}`, '');
      for (const item of ofKind) {
        lines.push(`- \`${escapeCell(item.signature)}\`${item.doc ? ` — ${item.doc}` : ''}`);
        for (const member of item.members) {
          lines.push(`  - \`${escapeCell(member.signature)}\`${member.doc ? ` — ${member.doc}` : ''}`);
        }
      }
      lines.push('');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(API_FILE, renderApi(apiItems()));
  console.log(`wrote ${API_FILE}`);
}
