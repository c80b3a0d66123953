/**
 * Training throughput side by side in one process, for two networks: the reference MLP
 * (784-250-250-10, SGD) at batches 60, 600 and 6000, and the CNN of examples/mnist-cnn.ts (conv
 * 32 3x3, max pool, conv 64 3x3, max pool, dropout 0.5, dense 10; batch 128, Adam). Contenders:
 * gradc's C and plain-TypeScript backends, TensorFlow.js (wasm and cpu backends) and PyTorch on
 * the CPU where Debian's python3-torch is installed (scripts/setup-bench.sh). gradc and the
 * TensorFlow.js peers train on one synthetic batch (bench/synthetic.ts), PyTorch on one drawn
 * alike in Python; the figure is samples/s over the timed steps, after untimed warm-up steps.
 * Single runs vary by ±20% on a shared machine, so the contenders run in alternating rounds
 * and the tables report medians and ranges, with gradc-c's throughput over each contender's;
 * for the MLP also gradc-c's GFLOP/s and its share of the machine's FMA peak (bench/peak.ts),
 * which runs in every round as the row `fma-peak`: the samples/s the peak would allow.
 *
 *   npm run bench                                  # both networks, all contenders, 3 rounds
 *   npm run bench -- --net cnn                     # only the CNN (--net mlp: only the MLP)
 *   npm run bench -- --net mlp --mlp-batches 600   # the MLP at one batch
 *   npm run bench -- --rounds 1 --only c,tfjs-wasm
 *   npm run bench -- --net cnn --rounds 1 --warmup 1 --steps 1   # a quick check that all run
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { Contender, RatioColumn, StepCounts, Summary } from './harness.ts';
import { MLP_LAYERS, formatTable, gradcContender, openGradcModel, runRounds } from './harness.ts';
import { benchTfjsMlp } from './peers/tfjs-mlp.ts';
import { benchTfjsCnn } from './peers/tfjs-cnn.ts';
import { supplyWasmConv2dBackpropFilter } from './peers/tfjs-wasm-conv-filter.ts';
import { fastestThreads, runTorch, threadCandidates, torchMissing } from './peers/torch.ts';
import type { FmaPeak, FmaProbe } from './peak.ts';
import { buildFmaProbe } from './peak.ts';

/** The MLP's batches: the reference experiment's small, middle and large. */
const MLP_BATCHES = [60, 600, 6000];
const CNN_BATCH = 128;
const NETS = ['mlp', 'cnn'] as const;
type NetName = (typeof NETS)[number];

/**
 * Floating-point operations of one training sample of a dense network (multiply-adds count 2):
 * the forward products, the weight gradients, and the input gradients of every layer but the
 * first. The reference MLP: 1,174,000.
 */
export function denseTrainFlops(layers: readonly number[]): number {
  const products = layers.slice(1).map((out, i) => 2 * layers[i] * out);
  const all = products.reduce((a, b) => a + b, 0);
  return 2 * all + (all - products[0]);
}

interface BenchOptions {
  readonly wanted: (name: string) => boolean;
  /** Step counts of a contender: its own, unless --warmup or --steps say otherwise. */
  readonly counts: (own: StepCounts) => StepCounts;
  /** PyTorch's thread count; measured over the candidates when absent. */
  readonly torchThreads?: number;
  /** The FMA peak probe, where gradc-c runs on a net whose FLOPs are known. */
  readonly peakProbe?: FmaProbe;
}

/** One network's comparison: what runs, and how its table reads. */
interface Net {
  readonly name: NetName;
  readonly title: string;
  readonly batch: number;
  readonly ratios: RatioColumn;
  readonly notes: string[];
  readonly contenders: readonly Contender[];
  /** Floating-point operations per training sample, where known: for GFLOP/s and % of peak. */
  readonly flopsPerSample?: number;
  /** The peak's measurements, one per round, where the probe ran. */
  readonly peaks?: FmaPeak[];
}

const PEAK_ROW = 'fma-peak';

/**
 * The FMA peak as a row of the table: each round runs the probe (the best of 3 runs) and reports
 * the samples/s a step of `flopsPerSample` would reach at that peak, so gradc-c's ratio to this
 * row is its share of the peak measured in the same rounds.
 */
function peakContender(probe: FmaProbe, flopsPerSample: number, peaks: FmaPeak[]): Contender {
  return {
    name: PEAK_ROW,
    async run() {
      const peak = probe.measure();
      peaks.push(peak);
      return { name: PEAK_ROW, samplesPerSecond: (peak.gflops * 1e9) / flopsPerSample };
    },
  };
}

/** gradc-c's throughput over each contender's: how many times faster gradc's C backend is. */
const OVER_GRADC_C: RatioColumn = { reference: 'gradc-c', referenceOverRow: true };

function tfjsContender(backend: 'wasm' | 'cpu', counts: StepCounts, bench: typeof benchTfjsMlp, batch: number): Contender {
  return { name: `tfjs-${backend}`, run: () => bench({ backend, batch, warmupSteps: counts.warmup, steps: counts.steps }) };
}

/** Step counts that train about `samples` samples at `batch`, at least `least` steps. */
function stepsFor(batch: number, samples: number, least: number, warmup: number): StepCounts {
  return { warmup, steps: Math.max(least, Math.round(samples / batch)) };
}

async function mlpNet(options: BenchOptions, batch: number): Promise<Net> {
  const { wanted, counts } = options;
  const model = (backend: 'c' | 'js') => openGradcModel('examples/mnist-mlp.ts', backend, batch);
  const notes: string[] = [];
  const contenders: Contender[] = [];
  if (wanted('gradc-c')) contenders.push(gradcContender('c', await model('c'), batch, counts(stepsFor(batch, 18_000, 5, 3))));
  if (wanted('gradc-js')) contenders.push(gradcContender('js', await model('js'), batch, counts(stepsFor(batch, 3_000, 1, 1))));
  if (wanted('tfjs-wasm')) contenders.push(tfjsContender('wasm', counts(stepsFor(batch, 9_000, 2, 2)), benchTfjsMlp, batch));
  if (wanted('tfjs-cpu')) contenders.push(tfjsContender('cpu', counts(stepsFor(batch, 3_000, 1, 1)), benchTfjsMlp, batch));
  if (wanted('torch-cpu')) {
    const torch = await torchContender('mlp', batch, options, counts(stepsFor(batch, 18_000, 5, 3)), notes);
    if (torch) contenders.push(torch);
  }
  const flopsPerSample = denseTrainFlops(MLP_LAYERS);
  const peaks: FmaPeak[] = [];
  if (options.peakProbe && wanted('gradc-c')) contenders.push(peakContender(options.peakProbe, flopsPerSample, peaks));
  return {
    name: 'mlp',
    title: `MLP 784-250-250-10, batch ${batch}, SGD`,
    batch,
    ratios: OVER_GRADC_C,
    notes,
    contenders,
    flopsPerSample,
    peaks,
  };
}

/** PyTorch's thread count: the one given, or the fastest of the candidates in one trial run. */
async function torchThreads(net: NetName, batch: number, options: BenchOptions, counts: StepCounts, notes: string[]): Promise<number> {
  if (options.torchThreads !== undefined) return options.torchThreads;
  const runs = await runTorch(net, batch, counts, threadCandidates(os.availableParallelism()));
  const best = fastestThreads(runs);
  const trials = runs.map((r) => `${r.threads}: ${Math.round(r.samplesPerSecond)}`).join(', ');
  notes.push(`torch-cpu: PyTorch ${runs[0].torch}, threads by trial (samples/s) ${trials}; using ${best}`);
  return best;
}

async function torchContender(
  net: NetName,
  batch: number,
  options: BenchOptions,
  counts: StepCounts,
  notes: string[],
): Promise<Contender | undefined> {
  const missing = torchMissing();
  if (missing) {
    notes.push(`torch-cpu: the PyTorch peer was not run: ${missing}`);
    return undefined;
  }
  const threads = await torchThreads(net, batch, options, counts, notes);
  return {
    name: 'torch-cpu',
    async run() {
      const [run] = await runTorch(net, batch, counts, [threads]);
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
    const torch = await torchContender('cnn', CNN_BATCH, options, counts({ warmup: 3, steps: 10 }), notes);
    if (torch) contenders.push(torch);
  }
  return {
    name: 'cnn',
    title: `CNN conv32 3x3-pool-conv64 3x3-pool-dropout-dense 10 (examples/mnist-cnn.ts), batch ${CNN_BATCH}, Adam`,
    batch: CNN_BATCH,
    ratios: OVER_GRADC_C,
    notes,
    contenders,
  };
}

/**
 * `gradc-c: 121.8 GFLOP/s (...), 65% of the FMA peak measured in the same rounds (...)`, for a net
 * whose FLOPs are known.
 */
function peakNote(net: Net, table: readonly Summary[]): string | undefined {
  const c = table.find((row) => row.name === 'gradc-c');
  if (!c || net.flopsPerSample === undefined) return undefined;
  const gflops = (c.samplesPerSecond * net.flopsPerSample) / 1e9;
  const note = `gradc-c: ${gflops.toFixed(1)} GFLOP/s (${(net.flopsPerSample / 1e6).toFixed(3)} MFLOP per sample)`;
  const peak = table.find((row) => row.name === PEAK_ROW);
  const probe = net.peaks?.[0];
  if (!peak || !probe) return note;
  const toGflops = (samplesPerSecond: number) => ((samplesPerSecond * net.flopsPerSample!) / 1e9).toFixed(1);
  return (
    `${note}, ${Math.round((100 * c.samplesPerSecond) / peak.samplesPerSecond)}% of the FMA peak measured in the same rounds ` +
    `(${PEAK_ROW}: median ${toGflops(peak.samplesPerSecond)} GFLOP/s, range ${toGflops(peak.min)}-${toGflops(peak.max)}, ` +
    `on ${probe.threads} threads, ${probe.lanes} float32 lanes, bench/peak/fma.c)`
  );
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
      'mlp-batches': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const rounds = optionalCount('rounds', values.rounds, 1) ?? 3;
  const warmup = optionalCount('warmup', values.warmup, 0);
  const steps = optionalCount('steps', values.steps, 1);
  const only = values.only?.split(',');
  const wanted = (name: string) => !only || only.includes(name) || only.includes(shortName(name));
  const mlpBatches = values['mlp-batches']?.split(',').map((b) => optionalCount('mlp-batches', b, 1)!) ?? MLP_BATCHES;
  const nets = parseNets(values.net);
  // Only the MLP's FLOPs are counted, so only its tables have the peak's row.
  const peakProbe = nets.includes('mlp') && wanted('gradc-c') ? buildFmaProbe() : undefined;
  const options: BenchOptions = {
    wanted,
    counts: (own) => ({ warmup: warmup ?? own.warmup, steps: steps ?? own.steps }),
    torchThreads: optionalCount('torch-threads', values['torch-threads'], 1),
    peakProbe,
  };
  const results: { net: Net; table: Summary[] }[] = [];
  for (const name of nets) {
    const list = name === 'mlp' ? mlpBatches.map((batch) => () => mlpNet(options, batch)) : [() => cnnNet(options)];
    for (const make of list) {
      const net = await make();
      console.log(`\n${net.title}: ${rounds} round(s) of ${net.contenders.map((c) => c.name).join(', ')}`);
      const table = await runRounds(net.contenders, rounds);
      const note = peakNote(net, table);
      if (note) net.notes.push(note);
      results.push({ net, table });
    }
  }
  for (const { net, table } of results) {
    console.log(`\n${net.title}; ${machine()}; median of ${rounds} round(s)`);
    for (const line of formatTable(table, net.ratios)) console.log(line);
    for (const note of net.notes) console.log(note);
  }
  if (values.json) {
    const { writeFile } = await import('node:fs/promises');
    const list = results.map(({ net, table }) => ({ net: net.name, title: net.title, batch: net.batch, notes: net.notes, table, peaks: net.peaks }));
    await writeFile(values.json, `${JSON.stringify({ rounds, machine: machine(), nets: list }, null, 2)}\n`);
  }
  peakProbe?.dispose();
}

await main();
process.exit(0);
