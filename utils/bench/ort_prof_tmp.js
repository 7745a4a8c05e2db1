const ort = require('onnxruntime-node');
const fs = require('fs');
async function main() {
  const [model, inName, inFile, threads] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: +threads,
    interOpNumThreads: 1, executionMode: 'sequential', enableProfiling: true,
    profileFilePrefix: '/tmp/kb/ortprof/p', extra: {session: {intra_op: {allow_spinning: '0'}}}});
  const buf = fs.readFileSync(inFile);
  const hl = buf.readUInt16LE(8); const header = buf.toString('latin1', 10, 10 + hl);
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').filter(s => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + hl, buf.byteOffset + buf.length));
  const feeds = {[inName]: new ort.Tensor('float32', data, shape)};
  for (let i = 0; i < 60; i++) await session.run(feeds);
  session.endProfiling();
}
main();
