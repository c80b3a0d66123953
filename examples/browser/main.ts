// The example page: loads MNIST, opens the MLP on WebGPU (or the JS kernels), evaluates the
// untrained model, then trains on a click and draws the loss and accuracy as it goes.
import { evaluate, fit, mnistDataset, stepsPerEpoch } from 'gradc/runtime';
import type { Dataset, EpochRecord, StepInfo } from 'gradc/runtime';
import type { MnistData } from '../../runtime/data/mnist-split.ts';
import type { MnistMlp } from '../../generated/mnist-mlp/model.js';
import { createChartPainter } from './chart.ts';
import type { ChartData, Point } from './chart.ts';
import { fetchMnist } from './mnist-fetch.ts';
import { NoWebGpuError, openModel } from './open-model.ts';
import { readSettings, urlWith } from './settings.ts';
import type { Settings } from './settings.ts';
import { percent, View } from './view.ts';

interface Session {
  readonly settings: Settings;
  readonly data: { readonly train: Dataset; readonly test: Dataset };
  readonly model: MnistMlp;
  readonly view: View;
  readonly painter: ReturnType<typeof createChartPainter>;
  loss: Point[];
  accuracy: Point[];
  untrained: number;
  stopRequested: boolean;
  /** performance.now() when the current run started. */
  started: number;
}

/** Paint at least this often while training, even when the steps keep the thread busy. */
const FRAME_INTERVAL_MS = 40;
let lastFrame = 0;

/** A macrotask, so input is handled (an already-settled await would not give way). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Waits until the browser has painted a frame (the chart, the progress bar). */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

/**
 * Gives way to the browser between steps: a paint when the last one is more than a frame
 * interval ago and the tab is visible (frames stop in a hidden tab), else just a task.
 */
async function yieldToBrowser(): Promise<void> {
  if (document.hidden || performance.now() - lastFrame < FRAME_INTERVAL_MS) return nextTask();
  await nextFrame();
  lastFrame = performance.now();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function chartData(session: Session): ChartData {
  return { epochs: session.settings.epochs, loss: session.loss, accuracy: session.accuracy };
}

function epochSteps(session: Session): number {
  return stepsPerEpoch(session.data.train.count, session.model.artifact.batch, 'fill');
}

/** Test accuracy only (the page's curve); the loss is evaluated after each epoch. */
async function testAccuracy(session: Session): Promise<number> {
  return (await evaluate(session.model, session.data.test, { loss: false })).accuracy ?? 0;
}

function describeSetup(settings: Settings, data: MnistData, backend: string): string {
  const count = (n: number) => n.toLocaleString('en');
  const epochs = `${settings.epochs} epoch${settings.epochs === 1 ? '' : 's'}`;
  return `${backend} · ${count(data.train.count)} training images, ` +
    `${count(data.test.count)} test images · ${epochs}`;
}

/** Evaluates the freshly initialised model: the accuracy curve's first point. */
async function evaluateUntrained(session: Session): Promise<void> {
  session.view.setStatus('Evaluating the untrained model…');
  const accuracy = await testAccuracy(session);
  session.untrained = accuracy;
  session.loss = [];
  session.accuracy = [{ x: 0, y: accuracy }];
  session.view.setResult(accuracy);
  session.view.setProgress(0, epochSteps(session) * session.settings.epochs);
  session.painter.now(chartData(session));
}

function showStep(session: Session, info: StepInfo): void {
  const done = (info.epoch - 1) * info.steps + info.step;
  const seconds = (performance.now() - session.started) / 1000;
  const rate = Math.round((done * session.model.artifact.batch) / seconds);
  const loss = session.loss.at(-1)?.y;
  session.view.setProgress(done, info.steps * session.settings.epochs);
  session.view.setStatus(
    `epoch ${info.epoch}/${session.settings.epochs} · step ${info.step}/${info.steps}` +
      (loss === undefined ? '' : ` · loss ${loss.toFixed(3)}`) +
      ` · ${rate.toLocaleString('en')} samples/s`,
  );
}

async function onStep(session: Session, info: StepInfo): Promise<void> {
  const x = info.epoch - 1 + info.step / info.steps;
  if (info.loss !== undefined) session.loss.push({ x, y: info.loss });
  const { evalEvery } = session.settings;
  const evaluate = evalEvery > 0 && info.step % evalEvery === 0 && info.step !== info.steps;
  if (evaluate && !session.stopRequested) {
    session.accuracy.push({ x, y: await testAccuracy(session) });
  }
  showStep(session, info);
  session.painter.request(chartData(session));
  await yieldToBrowser();
}

function onEpoch(session: Session, record: EpochRecord): void {
  const accuracy = record.validation?.accuracy ?? 0;
  session.accuracy.push({ x: record.epoch, y: accuracy });
  session.view.addEpoch(record);
  session.view.setResult(session.untrained, accuracy);
  session.painter.request(chartData(session));
}

function finishMessage(session: Session, stopped: boolean): string {
  const last = session.accuracy.at(-1)?.y ?? session.untrained;
  const seconds = ((performance.now() - session.started) / 1000).toFixed(1);
  const verb = stopped ? 'Stopped' : 'Done';
  return `${verb} after ${seconds} s: test accuracy ${percent(last)} ` +
    `(untrained ${percent(session.untrained)}).`;
}

async function train(session: Session): Promise<void> {
  session.stopRequested = false;
  session.started = performance.now();
  session.view.setState('training');
  session.view.setStatus('Training…');
  const { settings, model, data } = session;
  const result = await fit(model, data.train, {
    epochs: settings.epochs,
    validation: data.test,
    lossEvery: settings.lossEvery,
    callbacks: {
      shouldStop: () => session.stopRequested,
      onStep: (info) => onStep(session, info),
      onEpochEnd: (record) => onEpoch(session, record),
    },
  });
  session.painter.now(chartData(session));
  const stopped = result.interrupted || result.stoppedEarly;
  session.view.setStatus(finishMessage(session, stopped));
  session.view.setState(stopped ? 'stopped' : 'done');
}

/** Starts over from freshly initialised parameters. */
async function restart(session: Session): Promise<void> {
  session.view.setState('loading');
  session.view.clearEpochs();
  session.model.initialize(session.model.artifact.seed);
  await evaluateUntrained(session);
  await train(session);
}

function onToggle(session: Session): void {
  const run = (action: Promise<void>) =>
    action.catch((error: unknown) => session.view.showMessage(messageOf(error), 'error'));
  switch (session.view.state) {
    case 'ready':
      void run(train(session));
      return;
    case 'training':
      session.stopRequested = true;
      session.view.setState('stopping');
      return;
    case 'done':
    case 'stopped':
      void run(restart(session));
      return;
    default:
      return;
  }
}

async function open(view: View, settings: Settings): Promise<Session> {
  view.setStatus('Loading MNIST and opening the model…');
  const lost = (message: string) => view.showMessage(message, 'error');
  const [data, opened] = await Promise.all([
    fetchMnist({ train: settings.train, test: settings.test }),
    openModel(settings.backend, lost),
  ]);
  view.setSetup(describeSetup(settings, data, opened.description));
  const painter = createChartPainter(view.canvas);
  return {
    settings, view, painter, model: opened.model,
    data: { train: mnistDataset(data.train), test: mnistDataset(data.test) },
    loss: [], accuracy: [], untrained: 0, stopRequested: false, started: 0,
  };
}

function showFailure(view: View, error: unknown): void {
  if (error instanceof NoWebGpuError) {
    const href = urlWith(location.href, 'backend', 'js');
    const label = 'Train with the JavaScript kernels on the CPU instead.';
    view.showMessage(error.message, 'unsupported', { href, label });
    return;
  }
  view.showMessage(messageOf(error), 'error');
}

async function main(): Promise<void> {
  const view = new View();
  view.setState('loading');
  try {
    const session = await open(view, readSettings(location.search));
    await evaluateUntrained(session);
    view.onToggle(() => onToggle(session));
    view.setStatus(`Ready. Untrained test accuracy ${percent(session.untrained)}.`);
    view.setState('ready');
  } catch (error) {
    console.error(error);
    showFailure(view, error);
  }
}

void main();
