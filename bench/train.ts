/**
 * Training throughput side by side in one process, for two networks: the reference MLP
 * (784-250-250-10, batch 600, SGD) and the CNN of examples/mnist-cnn.ts (conv 32 3x3, max pool,
 * conv 64 3x3, max pool, dropout 0.5, dense 10; batch 128, Adam). Contenders: gradc's C and plain-TypeScript
 * backends, TensorFlow.js (wasm and cpu backends) and, for the CNN, PyTorch on the CPU where
 * Debian's python3-torch is installed (scripts/setup-bench.sh). gradc and the TensorFlow.js
 * peers train on one synthetic batch (bench/synthetic.ts), PyTorch on one drawn alike in
 * Python; the figure is samples/s over the timed steps, after untimed warm-up
 * steps. Single runs vary by ±20% on a shared machine, so the contenders run in alternating
 * rounds and the tables report medians and ranges. The MLP's ratios are against tfjs-wasm,
 * the CNN's are gradc-c's throughput over each contender's.
 *
 *   npm run bench                                  # both networks, all contenders, 3 rounds
 *   npm run bench -- --net cnn                     # only the CNN (--net mlp: only the MLP)
 *   npm run bench -- --rounds 1 --only c,tfjs-wasm
 *   npm run bench -- --net cnn --rounds 1 --warmup 1 --steps 1   # a quick check that all run
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { Contender, RatioColumn, StepCounts, Summary } from './harness.ts';
import { formatTable, gradcContender, openGradcModel, runRounds } from './harness.ts';
import { benchTfjsMlp } from './peers/tfjs-mlp.ts';
import { benchTfjsCnn } from './peers/tfjs-cnn.ts';
import { supplyWasmConv2dBackpropFilter } from './peers/tfjs-wasm-conv-filter.ts';
import { fastestThreads, runTorchCnn, threadCandidates, torchMissing } from './peers/torch-cnn.ts';

const MLP_BATCH = 600;
const CNN_BATCH = 128;
const NETS = ['mlp', 'cnn'] as const;
type NetName = (typeof NETS)[number];

interface BenchOptions {
  readonly wanted: (name: string) => boolean;
  /** Step counts of a contender: its own, unless --warmup or --steps say otherwise. */
  readonly counts: (own: StepCounts) => StepCounts;
  /** PyTorch's thread count; measured over the candidates when absent. */
  readonly torchThreads?: number;
}

/** One network's comparison: what runs, and how its table reads. */
interface Net {
  readonly name: NetName;
  readonly title: string;
  readonly batch: number;
  readonly ratios: RatioColumn;
  readonly notes: readonly string[];
  readonly contenders: readonly Contender[];
}

function tfjsContender(backend: 'wasm' | 'cpu', counts: StepCounts, bench: typeof benchTfjsMlp, batch: number): Contender {
  return { name: `tfjs-${backend}`, run: () => bench({ backend, batch, warmupSteps: counts.warmup, steps: counts.steps }) };
}

async function mlpNet(options: BenchOptions): Promise<Net> {
  const { wanted, counts } = options;
  const model = (backend: 'c' | 'js') => openGradcModel('examples/mnist-mlp.ts', backend, MLP_BATCH);
  const contenders: Contender[] = [];
  if (wanted('gradc-c')) contenders.push(gradcContender('c', await model('c'), MLP_BATCH, counts({ warmup: 3, steps: 30 })));
  if (wanted('gradc-js')) contenders.push(gradcContender('js', await model('js'), MLP_BATCH, counts({ warmup: 1, steps: 5 })));
  if (wanted('tfjs-wasm')) contenders.push(tfjsContender('wasm', counts({ warmup: 3, steps: 15 }), benchTfjsMlp, MLP_BATCH));
  if (wanted('tfjs-cpu')) contenders.push(tfjsContender('cpu', counts({ warmup: 2, steps: 5 }), benchTfjsMlp, MLP_BATCH));
  return {
    name: 'mlp',
    title: `MLP 784-250-250-10, batch ${MLP_BATCH}, SGD`,
    batch: MLP_BATCH,
    ratios: { reference: 'tfjs-wasm', referenceOverRow: false },
    notes: [],
    contenders,
  };
}

/** PyTorch's thread count: the one given, or the fastest of the candidates in one trial run. */
async function torchThreads(options: BenchOptions, counts: StepCounts, notes: string[]): Promise<number> {
  if (options.torchThreads !== undefined) return options.torchThreads;
  const runs = await runTorchCnn(CNN_BATCH, counts, threadCandidates(os.availableParallelism()));
  const best = fastestThreads(runs);
  const trials = runs.map((r) => `${r.threads}: ${Math.round(r.samplesPerSecond)}`).join(', ');
  notes.push(`torch-cpu: PyTorch ${runs[0].torch}, threads by trial (samples/s) ${trials}; using ${best}`);
  return best;
}

async function torchContender(options: BenchOptions, notes: string[]): Promise<Contender | undefined> {
  const missing = torchMissing();
  if (missing) {
    notes.push(`torch-cpu: the PyTorch peer was not run: ${missing}`);
    return undefined;
  }
  const counts = options.counts({ warmup: 3, steps: 10 });
  const threads = await torchThreads(options, counts, notes);
  return {
    name: 'torch-cpu',
    async run() {
      const [run] = await runTorchCnn(CNN_BATCH, counts, [threads]);
      return { name: 'torch-cpu', samplesPerSecond: run.samplesPerSecond };
    },
  };
}

async function cnnNet(options: BenchOptions): Promise<Net> {
  const { wanted, counts } = options;
  const model = (backend: 'c' | 'js') => openGradcModel('examples/mnist-cnn.ts', backend, CNN_BATCH);
  const notes: string[] = [];
  const contenders: Contender[] = [];
  if (wanted('gradc-c')) contenders.push(gradcContender('c', await model('c'), CNN_BATCH, counts({ warmup: 2, steps: 10 })));
  if (wanted('gradc-js')) contenders.push(gradcContender('js', await model('js'), CNN_BATCH, counts({ warmup: 1, steps: 1 })));
  if (wanted('tfjs-wasm')) {
    if (supplyWasmConv2dBackpropFilter()) {
      notes.push(
        "tfjs-wasm: tfjs-backend-wasm has no Conv2DBackpropFilter kernel (tensorflow/tfjs#8474); " +
          "the bench supplies it from wasm's Transpose and Conv2D (bench/peers/tfjs-wasm-conv-filter.ts)",
      );
    }
    contenders.push(tfjsContender('wasm', counts({ warmup: 2, steps: 5 }), benchTfjsCnn, CNN_BATCH));
  }
  // A step of the cpu backend takes minutes on this network: one step, and no untimed one.
  if (wanted('tfjs-cpu')) contenders.push(tfjsContender('cpu', counts({ warmup: 0, steps: 1 }), benchTfjsCnn, CNN_BATCH));
  if (wanted('torch-cpu')) {
    const torch = await torchContender(options, notes);
    if (torch) contenders.push(torch);
  }
  return {
    name: 'cnn',
    title: `CNN conv32 3x3-pool-conv64 3x3-pool-dropout-dense 10 (examples/mnist-cnn.ts), batch ${CNN_BATCH}, Adam`,
    batch: CNN_BATCH,
    ratios: { reference: 'gradc-c', referenceOverRow: true },
    notes,
    contenders,
  };
}

function machine(): string {
  return `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'})`;
}

function parseNets(value: string | undefined): NetName[] {
  if (value === undefined) return [...NETS];
  const nets = value.split(',');
  const unknown = nets.filter((n) => !(NETS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--net takes ${NETS.join(', ')} (comma-separated), got ${unknown.join(', ')}`);
  return nets as NetName[];
}

/** The name --only also takes: c, js and torch for gradc-c, gradc-js and torch-cpu. */
function shortName(contender: string): string {
  if (contender.startsWith('gradc-')) return contender.slice('gradc-'.length);
  return contender === 'torch-cpu' ? 'torch' : contender;
}

function optionalCount(flag: string, value: string | undefined, least: number): number | undefined {
  if (value === undefined) return undefined;
  const count = Number(value);
  if (!Number.isSafeInteger(count) || count < least) throw new Error(`--${flag} takes an integer of at least ${least}, got ${value}`);
  return count;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      net: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      warmup: { type: 'string' },
      steps: { type: 'string' },
      'torch-threads': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const rounds = optionalCount('rounds', values.rounds, 1) ?? 3;
  const warmup = optionalCount('warmup', values.warmup, 0);
  const steps = optionalCount('steps', values.steps, 1);
  const only = values.only?.split(',');
  const options: BenchOptions = {
    wanted: (name) => !only || only.includes(name) || only.includes(shortName(name)),
    counts: (own) => ({ warmup: warmup ?? own.warmup, steps: steps ?? own.steps }),
    torchThreads: optionalCount('torch-threads', values['torch-threads'], 1),
  };
  const results: { net: Net; table: Summary[] }[] = [];
  for (const name of parseNets(values.net)) {
    const net = name === 'mlp' ? await mlpNet(options) : await cnnNet(options);
    console.log(`\n${net.title}: ${rounds} round(s) of ${net.contenders.map((c) => c.name).join(', ')}`);
    const table = await runRounds(net.contenders, rounds);
    results.push({ net, table });
  }
  for (const { net, table } of results) {
    console.log(`\n${net.title}; ${machine()}; median of ${rounds} round(s)`);
    for (const line of formatTable(table, net.ratios)) console.log(line);
    for (const note of net.notes) console.log(note);
  }
  if (values.json) {
    const { writeFile } = await import('node:fs/promises');
    const nets = results.map(({ net, table }) => ({ net: net.name, title: net.title, batch: net.batch, notes: net.notes, table }));
    await writeFile(values.json, `${JSON.stringify({ rounds, machine: machine(), nets }, null, 2)}\n`);
  }
}

await main();
process.exit(0);
