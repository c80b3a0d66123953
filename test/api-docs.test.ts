/**
 * docs/API.md lists every export of the package's entry points with its signature and what it
 * does: it must match the sources (`npm run docs:api` writes it), and every export, and every
 * public member of an exported class, must say what it does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_FILE, apiItems, renderApi } from '../scripts/api-docs.ts';

describe('docs/API.md', () => {
  const items = apiItems();

  it('is up to date with the sources (run `npm run docs:api`)', () => {
    expect(readFileSync(API_FILE, 'utf8')).toBe(renderApi(items));
  }, 120_000);

  it('says what every export and every public class member does', () => {
    const undocumented = [
      ...items.filter((i) => !i.doc).map((i) => `${i.entry}: ${i.signature}`),
      ...items.flatMap((i) => i.members.filter((m) => !m.doc).map((m) => `${i.entry}: ${i.name}.${m.signature}`)),
    ];
    expect(undocumented).toEqual([]);
    expect(items.filter((i) => i.kind === 'function').length).toBeGreaterThan(40);
  });
});
