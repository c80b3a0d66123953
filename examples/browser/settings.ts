// The page's settings, read from the URL's query string, e.g.
// ?backend=js&train=6000&test=1000&epochs=1&evalEvery=5
export type PageBackend = 'webgpu' | 'js';

export interface Settings {
  /** Where the kernels run: the WGSL kernels through navigator.gpu, or the JS kernels. */
  readonly backend: PageBackend;
  /** How many of the 60,000 training images to use. */
  readonly train: number;
  /** How many of the 10,000 test images to evaluate on. */
  readonly test: number;
  readonly epochs: number;
  /** Read the loss back every this many steps (a GPU runs ahead in between). */
  readonly lossEvery: number;
  /** Evaluate the test accuracy every this many steps as well as after each epoch; 0: never. */
  readonly evalEvery: number;
}

export const DEFAULT_SETTINGS: Settings = {
  backend: 'webgpu',
  train: 60_000,
  test: 10_000,
  epochs: 10,
  lossEvery: 1,
  evalEvery: 20,
};

/** A query parameter that makes no sense; its message is shown on the page. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function readBackend(params: URLSearchParams): PageBackend {
  const value = params.get('backend') ?? DEFAULT_SETTINGS.backend;
  if (value !== 'webgpu' && value !== 'js') {
    throw new SettingsError(`?backend=${value}: expected webgpu or js`);
  }
  return value;
}

function readInteger(params: URLSearchParams, name: keyof Settings, min: number): number {
  const fallback = DEFAULT_SETTINGS[name] as number;
  const text = params.get(name);
  if (text === null || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new SettingsError(`?${name}=${text}: expected a whole number of at least ${min}`);
  }
  return value;
}

export function readSettings(search: string): Settings {
  const params = new URLSearchParams(search);
  return {
    backend: readBackend(params),
    train: readInteger(params, 'train', 1),
    test: readInteger(params, 'test', 1),
    epochs: readInteger(params, 'epochs', 1),
    lossEvery: readInteger(params, 'lossEvery', 1),
    evalEvery: readInteger(params, 'evalEvery', 0),
  };
}

/** The same page with one setting changed (for the "train on the CPU instead" link). */
export function urlWith(href: string, name: keyof Settings, value: string): string {
  const url = new URL(href);
  url.searchParams.set(name, value);
  return url.href;
}

