import model from './examples/mnist-mlp.ts';
import { compileModel } from './compiler/compile.ts';
const c = compileModel(model.declare());
for (const g of c.graphs) console.log(g.name, g.reports.map((r) => `${r.pass}:${r.nodesBefore}->${r.nodesAfter}`).join(' '));
for (const p of c.schedule.programs) console.log(p.name, p.kernels.length, p.kernels.map((k) => k.name).join(' '));
console.log(c.schedule.buffers.length, c.schedule.buffers.reduce((a, b) => a + b.size, 0) * 4 / 1e6, 'MB');
console.log(JSON.stringify(c.schedule.programs[0].kernels.slice(0, 6), null, 0));
