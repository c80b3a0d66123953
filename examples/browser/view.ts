// The page's DOM: the state on <body data-state>, the button, the progress bar and status
// line, the message box, the table of epochs, and the result line (whose data attributes the
// browser test reads).
import type { EpochRecord } from 'gradc/runtime';

export type PageState =
  | 'loading'
  | 'ready'
  | 'training'
  | 'stopping'
  | 'done'
  | 'stopped'
  | 'error'
  | 'unsupported';

const BUTTON_LABELS: Record<PageState, string> = {
  loading: 'Start training',
  ready: 'Start training',
  training: 'Stop',
  stopping: 'Stopping…',
  done: 'Train again',
  stopped: 'Train again',
  error: 'Start training',
  unsupported: 'Start training',
};

const CLICKABLE: ReadonlySet<PageState> = new Set(['ready', 'training', 'done', 'stopped']);

export interface Link {
  readonly href: string;
  readonly label: string;
}

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no <${type.name}> #${id}`);
  return found;
}

export function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(2)}%`;
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

export class View {
  readonly canvas = element('chart', HTMLCanvasElement);
  private readonly button = element('toggle', HTMLButtonElement);
  private readonly progress = element('progress', HTMLProgressElement);
  private readonly status = element('status', HTMLSpanElement);
  private readonly setup = element('setup', HTMLParagraphElement);
  private readonly message = element('message', HTMLDivElement);
  private readonly result = element('result', HTMLParagraphElement);
  private readonly epochs = element('epochs', HTMLTableElement).tBodies[0];

  get state(): PageState {
    return document.body.dataset.state as PageState;
  }

  setState(state: PageState): void {
    document.body.dataset.state = state;
    this.button.textContent = BUTTON_LABELS[state];
    this.button.disabled = !CLICKABLE.has(state);
  }

  onToggle(handler: () => void): void {
    this.button.addEventListener('click', handler);
  }

  setSetup(text: string): void {
    this.setup.textContent = text;
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  setProgress(done: number, total: number): void {
    this.progress.max = Math.max(total, 1);
    this.progress.value = done;
  }

  /** Shows an error (or why the page cannot run) and puts the page in `state`. */
  showMessage(text: string, state: 'error' | 'unsupported', link?: Link): void {
    this.message.replaceChildren(text);
    if (link) {
      const anchor = document.createElement('a');
      anchor.href = link.href;
      anchor.textContent = link.label;
      this.message.append(' ', anchor);
    }
    this.message.hidden = false;
    this.setStatus(state === 'error' ? 'Failed.' : 'Cannot run here.');
    this.setState(state);
  }

  clearEpochs(): void {
    this.epochs.replaceChildren();
  }

  addEpoch(record: EpochRecord): void {
    const row = document.createElement('tr');
    row.append(
      cell(String(record.epoch)),
      cell(record.loss.toFixed(4)),
      cell(record.validation?.loss?.toFixed(4) ?? '–'),
      cell(percent(record.validation?.accuracy ?? 0)),
      cell(record.seconds.toFixed(1)),
      cell(Math.round(record.samplesPerSecond).toLocaleString('en')),
    );
    this.epochs.append(row);
  }

  /** The test accuracy before training and, once an epoch has ended, the latest one. */
  setResult(untrained: number, trained?: number): void {
    this.result.dataset.untrainedAccuracy = String(untrained);
    let text = `Untrained test accuracy: ${percent(untrained)}.`;
    if (trained === undefined) {
      delete this.result.dataset.accuracy;
    } else {
      this.result.dataset.accuracy = String(trained);
      text += ` After training: ${percent(trained)}.`;
    }
    this.result.textContent = text;
  }
}
