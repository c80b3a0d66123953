/** The code-generation targets `gradc build --target` accepts. */
export const TARGETS = ['js', 'c'] as const;
export type Target = (typeof TARGETS)[number];

export function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}
