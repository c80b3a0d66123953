/**
 * What the dissertation "How to train a neural network" (A. Talwar, University of York, 2021)
 * reports for the reference experiment: the MLP 784-250-250-10 (ReLU, softmax, categorical
 * cross-entropy) trained on MNIST for 30 epochs with Keras, section 5. Its tables do not say
 * whether their accuracy and loss are the training or the test figures.
 */

/** The figures the dissertation gives for one run; a figure it does not give is absent. */
export interface ReportedFigures {
  readonly accuracyFirstEpoch?: number;
  readonly accuracyLastEpoch?: number;
  readonly lossFirstEpoch?: number;
  readonly lossLastEpoch?: number;
  readonly trainingSeconds?: number;
}

/** One of the dissertation's three experiments: where its figures are, and the figures by setting. */
export interface ReportedTable {
  /** Where the figures are in the dissertation. */
  readonly source: string;
  /** The figures by setting: the batch size, learning rate or optimizer as the grid names it. */
  readonly rows: Readonly<Record<string, ReportedFigures>>;
}

/**
 * Section 5.3, "Effects of batch size" (SGD, learning rate 0.01): the table of accuracy and
 * loss after the first and last epoch, and the table of training times. Both tables print the
 * batch sizes as 60, 600, 60000 and 600000; the text above them and the code of section 7
 * train 60, 600, 6000 and 60000, and the text calls the last row the full training set, so
 * the rows are those.
 */
export const DISSERTATION_BATCH_SIZE: ReportedTable = {
  source: 'section 5.3, the two tables after figure 16',
  rows: {
    '60': { accuracyFirstEpoch: 0.9, accuracyLastEpoch: 0.98, lossFirstEpoch: 0.81, lossLastEpoch: 0.009, trainingSeconds: 119 },
    '600': { accuracyFirstEpoch: 0.65, accuracyLastEpoch: 0.91, lossFirstEpoch: 1.79, lossLastEpoch: 0.4, trainingSeconds: 35 },
    '6000': { accuracyFirstEpoch: 0.052, accuracyLastEpoch: 0.82, lossFirstEpoch: 2.43, lossLastEpoch: 0.97, trainingSeconds: 5.12 },
    '60000': { accuracyFirstEpoch: 0.054, accuracyLastEpoch: 0.31, lossFirstEpoch: 2.4, lossLastEpoch: 2.33, trainingSeconds: 2.2 },
  },
};

/** Section 5.4, "Effects of learning rate" (SGD, batch 600): the table after figure 18. */
export const DISSERTATION_LEARNING_RATE: ReportedTable = {
  source: 'section 5.4, the table after figure 18',
  rows: {
    '1': { accuracyFirstEpoch: 0.44, accuracyLastEpoch: 0.9, lossFirstEpoch: 1.53, lossLastEpoch: 0.26 },
    '0.1': { accuracyFirstEpoch: 0.89, accuracyLastEpoch: 0.97, lossFirstEpoch: 0.44, lossLastEpoch: 0.13 },
    '0.01': { accuracyFirstEpoch: 0.68, accuracyLastEpoch: 0.9, lossFirstEpoch: 1.79, lossLastEpoch: 0.25 },
    '0.001': { accuracyFirstEpoch: 0.2, accuracyLastEpoch: 0.82, lossFirstEpoch: 2.44, lossLastEpoch: 0.8 },
  },
};

/**
 * Section 5.5, "Comparing gradient descent optimizers" (learning rate 0.01, batch 600). It has
 * no table: these are the validation accuracies its text reads off figures 19 and 20 (Adam and
 * RMSProp "just above 0.95" after the first epoch; no final figure for plain SGD).
 */
export const DISSERTATION_OPTIMIZER: ReportedTable = {
  source: 'section 5.5, the text on figures 19 and 20 (no table)',
  rows: {
    sgd: { accuracyFirstEpoch: 0.69 },
    momentum: { accuracyFirstEpoch: 0.89, accuracyLastEpoch: 0.96 },
    nesterov: { accuracyFirstEpoch: 0.89, accuracyLastEpoch: 0.96 },
    adagrad: { accuracyFirstEpoch: 0.83, accuracyLastEpoch: 0.92 },
    rmsprop: { accuracyFirstEpoch: 0.95, accuracyLastEpoch: 0.97 },
    adam: { accuracyFirstEpoch: 0.95, accuracyLastEpoch: 0.97 },
  },
};
