// tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel (tensorflow/tfjs#8474: "Kernel
// 'Conv2DBackpropFilter' not registered for backend 'wasm'"), so a tfjs layers model with a
// convolution cannot train on the wasm backend. The CNN peer supplies it from wasm's own
// kernels, for the case the benchmark needs (NHWC, unit strides, no padding): the filter
// gradient of a valid convolution is itself a valid convolution,
//   dW[kh,kw,c,f] = sum over n,i,j of x[n,kh+i,kw+j,c] · dy[n,i,j,f],
// i.e. conv2d(x as [C,H,W,N], dy as filters [OH,OW,N,F]) = [C,KH,KW,F], transposed to
// [KH,KW,C,F]. A tfjs release that has the kernel keeps its own.
import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Runs the wasm backend's own kernel `name`. */
function runWasmKernel(name: string, inputs: KernelArgs['inputs'], attrs: tf.NamedAttrMap, backend: tf.KernelBackend): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`tfjs-backend-wasm has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs, backend }) as tf.TensorInfo;
}

function isUnit(strides: unknown): boolean {
  return strides === 1 || (Array.isArray(strides) && strides.every((s) => s === 1));
}

function isNoPadding(pad: unknown): boolean {
  return pad === 'valid' || pad === 0 || (Array.isArray(pad) && pad.flat(2).every((p) => p === 0));
}

const conv2dBackpropFilter: tf.KernelFunc = ({ inputs, attrs, backend: anyBackend }) => {
  const backend = anyBackend as tf.KernelBackend;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat } = (attrs ?? {}) as { strides?: unknown; pad?: unknown; dataFormat?: unknown };
  if (!isUnit(strides) || !isNoPadding(pad) || (dataFormat !== undefined && dataFormat !== 'NHWC')) {
    throw new Error(
      `the bench's Conv2DBackpropFilter for tfjs-backend-wasm covers NHWC, unit strides and no padding only ` +
        `(got strides ${JSON.stringify(strides)}, pad ${JSON.stringify(pad)}, ${String(dataFormat)})`,
    );
  }
  const xT = runWasmKernel('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend);
  const dyT = runWasmKernel('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend);
  const conv = runWasmKernel(
    'Conv2D',
    { x: xT, filter: dyT },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
    backend,
  );
  const dw = runWasmKernel('Transpose', { x: conv }, { perm: [1, 2, 0, 3] }, backend);
  for (const t of [xT, dyT, conv]) backend.disposeData(t.dataId);
  return dw;
};

/**
 * Registers the filter gradient above for the wasm backend unless tfjs has one; returns
 * whether it did (so the bench can say so).
 */
export function supplyWasmConv2dBackpropFilter(): boolean {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return false;
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter });
  return true;
}
