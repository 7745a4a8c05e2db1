#!/usr/bin/env node
// Times an ONNX model on ONNX Runtime (CPU) -- the reference Kiln is measured
// against. Prints `min: / median: / p90: ... ms` in the same form as
// `kiln bench`, so one parser reads both.
//
//   node ort_bench.js MODEL.onnx --input NAME=FILE.npy [--input ...]
//        [--runs 50] [--warmup 5] [--threads 1] [--dump-dir DIR]
//
// --dump-dir writes each output as DIR/<name>.npy (same naming as `kiln run`)
// for cross-checking against kiln's outputs.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// .npy dtype descr <-> ONNX Runtime tensor type and typed array.
const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
  '<i2': ['int16', Int16Array], '|i1': ['int8', Int8Array],
  '<u8': ['uint64', BigUint64Array], '<u4': ['uint32', Uint32Array],
  '<u2': ['uint16', Uint16Array], '|u1': ['uint8', Uint8Array],
  '|b1': ['bool', Uint8Array],
};

function usage(message) {
  if (message) console.error(`ort_bench: ${message}`);
  console.error('usage: ort_bench.js MODEL.onnx --input NAME=FILE.npy ... [--runs N] [--warmup N] ' +
                '[--threads N] [--dump-dir DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {inputs: [], runs: 50, warmup: 5, threads: 1, dumpDir: null, model: null};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${flag} needs a value`));
    const count = (min) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) usage(`${flag} must be an integer >= ${min}`);
      return n;
    };
    if (flag === '--input') {
      const spec = value();
      const eq = spec.indexOf('=');
      if (eq <= 0) usage(`--input wants NAME=FILE.npy, got ${spec}`);
      args.inputs.push([spec.slice(0, eq), spec.slice(eq + 1)]);
    } else if (flag === '--runs') args.runs = count(1);
    else if (flag === '--warmup') args.warmup = count(0);
    else if (flag === '--threads') args.threads = count(1);
    else if (flag === '--dump-dir') args.dumpDir = value();
    else if (flag.startsWith('-')) usage(`unknown option ${flag}`);
    else if (args.model === null) args.model = flag;
    else usage(`unexpected argument ${flag}`);
  }
  if (args.model === null) usage('no model given');
  return args;
}

function readNpy(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
                    .filter((s) => s).map(Number);
  if (fortran) throw new Error(`${file}: Fortran-ordered arrays are not supported`);
  const type = NPY_TYPES[descr];
  if (!type) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [ortType, ArrayType] = type;
  const size = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  // Copy: the data offset inside the file need not be aligned for the typed array.
  const data = new ArrayType(size);
  Buffer.from(data.buffer).set(bytes.subarray(dataStart, dataStart + size * ArrayType.BYTES_PER_ELEMENT));
  return new ort.Tensor(ortType, ortType === 'bool' ? Uint8Array.from(data) : data, shape);
}

function writeNpy(file, tensor) {
  const descr = Object.keys(NPY_TYPES).find((d) => NPY_TYPES[d][0] === tensor.type);
  if (!descr) throw new Error(`cannot write output of type ${tensor.type} as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that magic + version + length + header is a multiple of 64 bytes, ending in '\n'.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), payload]));
}

function percentile(sorted, fraction) {
  // Nearest-rank percentile.
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1];
}

function median(sorted) {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Idle intra-op threads sleep rather than spin, as Kiln's pool does
    // between runs; the benchmark table in docs/benchmarks.md is measured so.
    extra: {session: {intra_op: {allow_spinning: '0'}}},
  });
  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    feeds[name] = readNpy(file);
  }
  const missing = session.inputNames.filter((name) => !(name in feeds));
  if (missing.length) throw new Error(`no --input for ${missing.join(', ')}`);

  for (let i = 0; i < args.warmup; i++) await session.run(feeds);
  const times = [];
  let outputs;
  for (let i = 0; i < args.runs; i++) {
    const start = process.hrtime.bigint();
    outputs = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const version = require('onnxruntime-node/package.json').version;
  console.log(`onnxruntime-node ${version}, ${args.threads} thread(s), ${args.runs} runs`);
  console.log(`min: ${times[0].toFixed(3)} ms`);
  console.log(`median: ${median(times).toFixed(3)} ms`);
  console.log(`p90: ${percentile(times, 0.9).toFixed(3)} ms`);

  if (args.dumpDir) {
    fs.mkdirSync(args.dumpDir, {recursive: true});
    for (const name of session.outputNames) {
      writeNpy(path.join(args.dumpDir, name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy'), outputs[name]);
    }
  }
}

main().catch((error) => {
  console.error(`ort_bench: error: ${error.message}`);
  process.exit(1);
});
