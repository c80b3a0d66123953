/** The error of every checkpoint, weights and safetensors problem: one line naming the file. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
