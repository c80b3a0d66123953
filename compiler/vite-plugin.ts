/**
 * `gradc/vite`: a Vite plugin that builds a page's models with `gradc build` before Vite
 * bundles the page, and builds them again whenever a model file or a local file it imports
 * changes while the dev server runs (the page then reloads with the new glue module). By
 * default only the targets a browser runs are built (js and wgsl), so the bundle carries no C
 * or CUDA kernels.
 *
 * ```ts
 * // vite.config.ts
 * import { gradc } from 'gradc/vite';
 * export default { plugins: [gradc({ models: { 'src/model.ts': 'src/generated/model' } })] };
 * ```
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { recordedInputs } from './build-cache.ts';

/** A browser target of `gradc build`. */
export type BrowserTarget = 'js' | 'wgsl';

/** The models the plugin builds, their folders, targets and further `gradc build` options. */
export interface GradcViteOptions {
  /** Model file -> the folder its glue module is built into (relative to Vite's root). */
  readonly models: Readonly<Record<string, string>>;
  /** Targets to build (default js and wgsl). */
  readonly targets?: readonly BrowserTarget[];
  /** Further `gradc build` options, e.g. ['--predict-only', '--predict-batch', '1']. */
  readonly buildArgs?: readonly string[];
}

/** The parts of Vite's plugin interface this plugin uses (Vite itself is not imported). */
export interface GradcVitePlugin {
  readonly name: 'gradc';
  configResolved(config: { readonly root: string }): void;
  buildStart(this: { addWatchFile(file: string): void }): Promise<void>;
  configureServer(server: {
    readonly watcher: { add(files: string[]): unknown; on(event: 'change', listener: (file: string) => void): unknown };
  }): void;
}

/** The gradc command of this package, run in a child process per build. */
function gradcBin(): string {
  const manifest = createRequire(import.meta.url).resolve('gradc/package.json');
  return join(dirname(manifest), 'bin', 'gradc.mjs');
}

/** Runs `gradc build` for one model; rejects with its output when it fails. */
function runBuild(root: string, file: string, out: string, options: GradcViteOptions): Promise<void> {
  const targets = (options.targets ?? ['js', 'wgsl']).join(',');
  const args = [gradcBin(), 'build', file, '--out', out, '--target', targets, ...(options.buildArgs ?? [])];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`gradc build ${file} failed:\n${output.trim()}`))));
  });
}

/** The model file and the local files it imports, from the build's record. */
function inputsOf(root: string, file: string, out: string): string[] {
  return recordedInputs(resolve(root, file), resolve(root, out));
}

/** The Vite plugin: builds the models before Vite bundles the page and again when they change. */
export function gradc(options: GradcViteOptions): GradcVitePlugin {
  let root = process.cwd();
  const models = Object.entries(options.models);
  const buildAll = () => Promise.all(models.map(([file, out]) => runBuild(root, file, out, options)));
  return {
    name: 'gradc',
    configResolved(config) {
      root = config.root;
    },
    async buildStart() {
      await buildAll();
      for (const [file, out] of models) for (const input of inputsOf(root, file, out)) this.addWatchFile(input);
    },
    configureServer(server) {
      const watched = () => new Set(models.flatMap(([file, out]) => inputsOf(root, file, out)));
      server.watcher.add([...watched()]);
      // One build per model at a time; changes during a build ask for one more after it.
      const running = new Map<string, Promise<void>>();
      const again = new Set<string>();
      const rebuild = (file: string, out: string): void => {
        if (running.has(file)) {
          again.add(file);
          return;
        }
        const done = runBuild(root, file, out, options)
          .then(() => void server.watcher.add([...watched()]), (error: Error) => console.error(error.message))
          .finally(() => {
            running.delete(file);
            if (again.delete(file)) rebuild(file, out);
          });
        running.set(file, done);
      };
      server.watcher.on('change', (changed) => {
        const path = resolve(changed);
        const model = models.find(([file, out]) => inputsOf(root, file, out).includes(path));
        if (model) rebuild(model[0], model[1]);
      });
    },
  };
}
