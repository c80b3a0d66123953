/**
 * The plain-TypeScript backend: buffers are Float32Arrays and kernels are the functions the JS
 * renderer emitted (compiler/codegen/render/js.ts), called in place.
 */
import type { Backend, BoundLaunch, DeviceBuffer, HostBackend } from '../backend.ts';
import type { JsKernel } from '../../artifact/kernels.ts';
import { fromHostBackend } from '../backend.ts';

class JsBuffer implements DeviceBuffer {
  readonly data: Float32Array;

  constructor(readonly size: number) {
    this.data = new Float32Array(size);
  }
}

function asJsBuffer(buffer: DeviceBuffer): JsBuffer {
  if (!(buffer instanceof JsBuffer)) throw new Error('js backend: not a buffer of this backend');
  return buffer;
}

/** A backend over `kernels`, the `kernels` record of a rendered JS module. */
export function createJsBackend(
  kernels: Readonly<Record<string, JsKernel>>,
): Backend & HostBackend {
  return fromHostBackend({
    name: 'js',
    allocate: (size) => new JsBuffer(size),
    upload(buffer, data) {
      const target = asJsBuffer(buffer);
      if (data.length !== target.size) {
        const sizes = `${data.length} values into a buffer of ${target.size}`;
        throw new Error(`js backend: uploading ${sizes}`);
      }
      target.data.set(data);
    },
    readBack: (buffer) => asJsBuffer(buffer).data.slice(),
    bind(kernel, args): BoundLaunch {
      const fn = Object.hasOwn(kernels, kernel) ? kernels[kernel] : undefined;
      if (!fn) throw new Error(`js backend: unknown kernel "${kernel}"`);
      if (fn.length !== args.length) {
        const counts = `takes ${fn.length} buffers, got ${args.length}`;
        throw new Error(`js backend: kernel "${kernel}" ${counts}`);
      }
      const arrays = args.map((a) => asJsBuffer(a).data);
      return () => fn(...arrays);
    },
    dispose() {},
  });
}
