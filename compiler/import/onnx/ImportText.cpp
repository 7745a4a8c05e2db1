//===- ImportText.cpp - TfIdfVectorizer -----------------------------------===//
//
// TfIdfVectorizer over integer token ids (string tokens are not supported:
// Kiln has no string tensors). With the pool of n-grams a compile-time
// attribute, counting is comparisons: for each n-gram length and skip, the
// windows of the input are gathered at compile-time positions and compared
// with every pool n-gram at once; a matmul by a one-hot matrix then places
// (and weights) the counts in the output columns.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

LogicalResult importTfIdfVectorizer(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  if (!isa<IntegerType>(type.getElementType()) ||
      (type.getRank() != 1 && type.getRank() != 2))
    return n.error("X must be a 1-D or 2-D tensor of integer token ids");
  if (n.hasAttr("pool_strings"))
    return n.error("pool_strings is not supported (no string tensors)");
  std::string mode = n.attrString("mode", "");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF")
    return n.error("mode must be TF, IDF or TFIDF");
  int64_t minLength = n.attrInt("min_gram_length", 0),
          maxLength = n.attrInt("max_gram_length", 0),
          maxSkip = n.attrInt("max_skip_count", 0);
  SmallVector<int64_t> counts = n.attrInts("ngram_counts"),
                       indexes = n.attrInts("ngram_indexes"),
                       pool = n.attrInts("pool_int64s");
  SmallVector<float> weights = n.attrFloats("weights");
  if (minLength < 1 || maxLength < minLength || maxSkip < 0)
    return n.error("need 1 <= min_gram_length <= max_gram_length and "
                   "max_skip_count >= 0");
  // Pool entries: counts[i] is where the (i+1)-grams start.
  int64_t entries = 0;
  SmallVector<std::pair<int64_t, int64_t>> groups; // (start, count) per length
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t start = counts[i];
    int64_t end = i + 1 < counts.size() ? counts[i + 1] : (int64_t)pool.size();
    int64_t length = i + 1;
    if (start < 0 || end < start || end > (int64_t)pool.size() ||
        (end - start) % length != 0)
      return n.error("ngram_counts do not split pool_int64s into n-grams");
    groups.push_back({start, (end - start) / length});
    entries += (end - start) / length;
  }
  if ((int64_t)indexes.size() != entries ||
      (!weights.empty() && weights.size() != indexes.size()))
    return n.error("ngram_indexes/weights must have one entry per pool n-gram");
  int64_t columns = 0;
  for (int64_t index : indexes) {
    if (index < 0)
      return n.error("ngram_indexes must be non-negative");
    columns = std::max(columns, index + 1);
  }

  Type i64 = n.builder.getIntegerType(64), f32 = n.builder.getF32Type();
  int64_t batch = type.getRank() == 2 ? type.getDimSize(0) : 1;
  int64_t tokens = type.getDimSize(type.getRank() - 1);
  KILN_TRY(ids, n.castElements(n.input(0), i64));
  KILN_TRY(rows, n.reshape(ids, {batch, tokens}));

  // counts[b, j] for every pool n-gram j, in pool order.
  SmallVector<Value> groupCounts;
  for (size_t g = 0; g < groups.size(); ++g) {
    int64_t length = g + 1, grams = groups[g].second;
    if (grams == 0)
      continue;
    Value total;
    if (length >= minLength && length <= maxLength) {
      ConstantTensor gramTable(
          RankedTensorType::get({1, 1, grams, length}, i64));
      for (int64_t j = 0; j < grams * length; ++j)
        gramTable.setInt(j, pool[groups[g].first + j]);
      Value table = n.constant(gramTable.toAttr());
      // Unigrams have no gaps to skip.
      for (int64_t skip = 0; skip <= (length == 1 ? 0 : maxSkip); ++skip) {
        int64_t span = (length - 1) * (skip + 1) + 1;
        int64_t starts = tokens - span + 1;
        if (starts <= 0)
          break;
        ConstantTensor positions(RankedTensorType::get({starts, length}, i64));
        for (int64_t s = 0; s < starts; ++s)
          for (int64_t t = 0; t < length; ++t)
            positions.setInt(s * length + t, s + t * (skip + 1));
        KILN_TRY(windows,
                 n.create<k::GatherOp>(rows, n.constant(positions.toAttr()),
                                       (uint64_t)1)); // [B, S, n]
        KILN_TRY(windows4, n.reshape(windows, {batch, starts, 1, length}));
        KILN_TRY(equal, n.create<k::EqualOp>(windows4, table)); // [B,S,M,n]
        KILN_TRY(equalInt, n.castElements(equal, i64));
        KILN_TRY(matched, n.create<k::ReduceMinOp>(
                              equalInt, ArrayRef<int64_t>{3}, false));
        KILN_TRY(perGram, n.create<k::ReduceSumOp>(
                              matched, ArrayRef<int64_t>{1}, false)); // [B,M]
        if (total) {
          KILN_TRY(sum, n.create<k::AddOp>(total, perGram));
          total = sum;
        } else {
          total = perGram;
        }
      }
    }
    if (!total)
      total = n.splat(i64, 0, {batch, grams});
    groupCounts.push_back(total);
  }
  Value all = groupCounts.size() == 1 ? groupCounts.front() : Value();
  if (!all) {
    KILN_TRY(joined, n.create<k::ConcatOp>(groupCounts, (uint64_t)1));
    all = joined;
  }
  KILN_TRY(asFloat, n.castElements(all, f32));
  Value frequencies = asFloat;
  if (mode == "IDF") {
    KILN_TRY(present, n.create<k::GreaterOp>(all, n.splat(i64, 0)));
    KILN_TRY(presentFloat, n.castElements(present, f32));
    frequencies = presentFloat;
  }
  // One-hot placement, with the weights folded in for IDF and TFIDF.
  ConstantTensor placement(RankedTensorType::get({entries, columns}, f32));
  for (int64_t j = 0; j < entries; ++j)
    placement.set(j * columns + indexes[j],
                  mode == "TF" || weights.empty() ? 1.0 : weights[j]);
  KILN_TRY(output,
           n.create<k::MatMulOp>(frequencies, n.constant(placement.toAttr())));
  if (type.getRank() == 1) {
    KILN_TRY(flat, n.reshape(output, {columns}));
    output = flat;
  }
  n.setOutput(0, output);
  return success();
}

} // namespace

void registerTextOps(OpTable &t) {
  t["TfIdfVectorizer"] = {importTfIdfVectorizer, 9,
                          "integer tokens (no pool_strings); comparisons "
                          "and a one-hot matmul"};
}

} // namespace kiln::onnx_import
