/** Learning-rate schedules, evaluated on the host before each step. */
import type { LrSchedule } from '../dsl/spec.ts';

/** The learning rate at `step` (0-based) for a base rate `base`. */
export function learningRateAt(schedule: LrSchedule, base: number, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'exponential':
      return base * Math.pow(schedule.decay, step / schedule.every);
    case 'polynomial': {
      const t = Math.min(step, schedule.steps) / schedule.steps;
      const end = base * schedule.endFactor;
      return (base - end) * Math.pow(1 - t, schedule.power) + end;
    }
    case 'inverse_sqrt': {
      const warm = Math.max(1, schedule.warmup);
      return step < warm ? (base * (step + 1)) / warm : base * Math.sqrt(warm / (step + 1));
    }
    case 'cosine': {
      if (step < schedule.warmup) return (base * (step + 1)) / schedule.warmup;
      const t = Math.min(1, (step - schedule.warmup) / Math.max(1, schedule.steps - schedule.warmup));
      const min = base * schedule.minFactor;
      return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
    }
  }
}
