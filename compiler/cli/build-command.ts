/** `gradc build <model.ts>`. */
import { buildModel } from '../build.ts';
import type { Target } from '../codegen/targets.ts';
import { DEFAULT_TARGETS, TARGETS, isTarget } from '../codegen/targets.ts';
import { memoryReport } from '../memory.ts';
import { formatWarning } from '../compile.ts';
import { printGraph } from '../ir/print.ts';
import { DEFAULT_CUDA_ARCHS, isCudaArch } from '../../runtime/backends/cuda-compile.ts';
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

export async function buildCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    target: { type: 'string' },
    out: { type: 'string' },
    batch: { type: 'string' },
    seed: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
    'print-graph': { type: 'boolean' },
    'cuda-arch': { type: 'string' },
    'skip-nvcc': { type: 'boolean' },
    'predict-only': { type: 'boolean' },
    'predict-batch': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('gradc build takes one model file');
  const seed = seedOption(values.seed);
  const result = await buildModel(positionals[0], {
    targets: parseTargets(values.target),
    outDir: values.out,
    batch: intOption(values.batch, 'batch'),
    seed,
    cudaArchs: parseCudaArchs(values['cuda-arch']),
    compileCuda: !values['skip-nvcc'],
    predictOnly: values['predict-only'] ?? false,
    predictBatch: intOption(values['predict-batch'], 'predict-batch'),
  });
  const { compiled } = result;
  for (const w of compiled.warnings) process.stderr.write(`gradc: warning: ${formatWarning(w)}\n`);
  if (values.verbose) {
    for (const g of compiled.graphs) {
      for (const r of g.reports) {
        const hits = Object.entries(r.ruleHits).map(([rule, n]) => `${rule}×${n}`).join(' ');
        console.log(`${g.name}: ${r.pass.padEnd(8)} ${r.nodesBefore} -> ${r.nodesAfter} nodes ${hits}`);
      }
    }
    for (const p of compiled.schedule.programs) console.log(`${p.name}: ${p.kernels.length} kernels`);
    console.log(memoryReport(compiled.schedule));
  }
  if (values['print-graph']) for (const g of compiled.graphs) console.log(`# ${g.name}\n${printGraph(g.graph)}`);
  for (const f of result.files) console.log(`${f.changed ? 'wrote' : 'up to date'} ${f.path}`);
  return 0;
}
