/**
 * The type of a predict-only model (`gradc build --predict-only`): a ModelInstance without the
 * members that train or touch optimizer state. The instance behind it is a ModelInstance whose
 * artifact holds the predict program alone; called anyway (from JavaScript, or through a
 * cast), those members refuse with one line.
 */
import type { Feeds, ModelInstance } from './model.ts';

/** What a predict-only model does not have. */
export type TrainingMember =
  | 'trainStep'
  | 'enqueueTrainStep'
  | 'checkedTrainStep'
  | 'lastLoss'
  | 'evaluateLoss'
  | 'snapshot'
  | 'restore';

/** A predict-only build's model: predictions and weights, nothing that trains. */
export type PredictOnlyModel<
  PredictFeeds extends Feeds = Feeds,
  Predictions extends Feeds = Feeds,
  ParamName extends string = string,
> = Omit<ModelInstance<never, PredictFeeds, Predictions, ParamName>, TrainingMember>;
