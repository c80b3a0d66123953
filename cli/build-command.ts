/**
 * `gradc build <model.ts>`. An unchanged model (same files, options and gradc) is not built
 * again, and nothing heavy is loaded to find that out; `--watch` builds again on every change.
 */
import { spawn } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildOptions } from '../compiler/build.ts';
import { buildKey, checkOutDir, defaultBuildFolder, isUpToDate, recordedInputs } from '../compiler/build-cache.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import { DEFAULT_TARGETS, TARGETS, isTarget } from '../compiler/codegen/targets.ts';
import { DEFAULT_CUDA_ARCHS, isCudaArch } from '../artifact/cuda-compile.ts';
import { UsageError, intOption, parseCommand, seedOption } from './main.ts';

export function parseTargets(value: string | undefined): Target[] {
  if (value === undefined) return [...DEFAULT_TARGETS];
  const names = [...new Set(value.split(',').map((t) => t.trim()).filter(Boolean))];
  if (names.length === 0) throw new UsageError(`--target needs at least one target (known: ${TARGETS.join(', ')})`);
  for (const name of names) {
    if (!isTarget(name)) throw new UsageError(`unknown target "${name}" (known: ${TARGETS.join(', ')})`);
  }
  return names as Target[];
}

/** `--cuda-arch sm_80,sm_90`: the GPU architectures nvcc compiles the CUDA kernels for. */
export function parseCudaArchs(value: string | undefined): string[] {
  if (value === undefined) return [...DEFAULT_CUDA_ARCHS];
  const names = value.split(',').map((a) => a.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--cuda-arch needs at least one architecture');
  for (const name of names) {
    if (!isCudaArch(name)) {
      throw new UsageError(`--cuda-arch: "${name}" is not a CUDA architecture like sm_80 or sm_90`);
    }
  }
  return names;
}

export const BUILD_OPTIONS = {
  target: { type: 'string' },
  out: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  explain: { type: 'boolean' },
  'print-graph': { type: 'boolean' },
  'cuda-arch': { type: 'string' },
  'skip-nvcc': { type: 'boolean' },
  'predict-only': { type: 'boolean' },
  'predict-batch': { type: 'string' },
  force: { type: 'boolean' },
  watch: { type: 'boolean' },
} as const;

export async function buildCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, BUILD_OPTIONS);
  if (positionals.length !== 1) throw new UsageError('gradc build takes one model file');
  const file = positionals[0];
  const options: BuildOptions = {
    targets: parseTargets(values.target),
    outDir: values.out,
    batch: intOption(values.batch, 'batch'),
    seed: seedOption(values.seed),
    cudaArchs: parseCudaArchs(values['cuda-arch']),
    compileCuda: !values['skip-nvcc'],
    predictOnly: values['predict-only'] ?? false,
    predictBatch: intOption(values['predict-batch'], 'predict-batch'),
  };
  const out = values.out !== undefined ? resolve(values.out) : undefined;
  if (out !== undefined) checkOutDir(out);
  if (values.watch) return watchBuilds(file, out, argv.filter((a) => a !== '--watch'));
  const reportOnly = !values.force && !values.verbose && !values.explain && !values['print-graph'];
  const folder = out ?? defaultBuildFolder(file);
  if (reportOnly && folder !== undefined && isUpToDate(folder, buildKey(file, folder, options))) {
    console.log(`up to date ${folder} (gradc build --force builds anyway)`);
    return 0;
  }
  const { buildModel } = await import('../compiler/build.ts');
  const result = await buildModel(file, options);
  const { compiled } = result;
  const { formatWarning } = await import('../compiler/compile.ts');
  for (const w of compiled.warnings) process.stderr.write(`gradc: warning: ${formatWarning(w)}\n`);
  if (values.verbose) {
    const { memoryReport } = await import('../compiler/memory.ts');
    for (const g of compiled.graphs) {
      for (const r of g.reports) {
        const hits = Object.entries(r.ruleHits).map(([rule, n]) => `${rule}×${n}`).join(' ');
        console.log(`${g.name}: ${r.pass.padEnd(8)} ${r.nodesBefore} -> ${r.nodesAfter} nodes ${hits}`);
      }
    }
    for (const p of compiled.schedule.programs) console.log(`${p.name}: ${p.kernels.length} kernels`);
    console.log(memoryReport(compiled.schedule));
  }
  if (values.explain) {
    const { explainSchedule } = await import('../compiler/explain.ts');
    for (const line of explainSchedule(compiled.schedule)) console.log(line);
  }
  if (values['print-graph']) {
    const { printGraph } = await import('../ir/print.ts');
    for (const g of compiled.graphs) console.log(`# ${g.name}\n${printGraph(g.graph)}`);
  }
  for (const f of result.files) console.log(`${f.removed ? 'removed' : f.changed ? 'wrote' : 'up to date'} ${f.path}`);
  return 0;
}

/** Milliseconds of quiet after a change before building (editors write files in bursts). */
const WATCH_SETTLE_MS = 150;

/**
 * Builds, then builds again whenever the model file or a local file it imports changes, each
 * time in a fresh process (a changed ES module cannot be imported again into the same one).
 * Runs until interrupted; a failed build is reported and the watch goes on.
 */
async function watchBuilds(file: string, out: string | undefined, argv: readonly string[]): Promise<number> {
  const args = [...process.execArgv, process.argv[1], 'build', ...argv];
  let watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let building = false;
  let again = false;
  const build = (): void => {
    if (building) {
      again = true;
      return;
    }
    building = true;
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('exit', (code) => {
      building = false;
      console.log(code === 0 ? 'gradc: watching for changes' : 'gradc: the build failed; watching for changes');
      rewatch();
      if (again) {
        again = false;
        build();
      }
    });
  };
  const rewatch = (): void => {
    for (const w of watchers) w.close();
    // A file the last build read may have been deleted or renamed since: it is not watched.
    const paths = recordedInputs(file, out ?? defaultBuildFolder(file)).filter((path) => existsSync(path));
    watchers = paths.map((path) =>
      watch(path, () => {
        clearTimeout(timer);
        timer = setTimeout(build, WATCH_SETTLE_MS);
      }),
    );
  };
  build();
  await new Promise<never>(() => {});
  return 0;
}
