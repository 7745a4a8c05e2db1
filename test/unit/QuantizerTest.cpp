//===- QuantizerTest.cpp - calibration and QDQ decisions ------------------===//
//
// The quantizer's pieces without running a model: the parameters each
// calibrator chooses from observed values, and which nodes of a hand-made
// ONNX graph become int8 units with which QuantizeLinear/DequantizeLinear
// pairs.
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/QdqGraph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::quantize;

TEST(Calibration, RangeIncludesZero) {
  AffineParams params = uint8ParamsForRange(-1.0f, 3.0f);
  EXPECT_FLOAT_EQ(params.scale, 4.0f / 255);
  EXPECT_EQ(params.zeroPoint, 64); // round(1 / (4 / 255)) = round(63.75)
  // A positive range is widened down to 0, so zero stays exact.
  params = uint8ParamsForRange(2.0f, 5.1f);
  EXPECT_FLOAT_EQ(params.scale, 5.1f / 255);
  EXPECT_EQ(params.zeroPoint, 0);
  // Nothing seen, or all zeros: a valid scale all the same.
  EXPECT_EQ(uint8ParamsForRange(0, 0).scale, 1.0f);
}

/// 100,000 values spread over [0, 1) and one outlier at 10.
std::vector<float> valuesWithOutlier() {
  std::vector<float> values;
  for (int i = 0; i < 100000; ++i)
    values.push_back((i % 1000) / 1000.0f);
  values.push_back(10.0f);
  return values;
}

TEST(Calibration, MinMaxKeepsTheOutlier) {
  std::vector<float> values = valuesWithOutlier();
  TensorObserver observer;
  observer.observeRange(values.data(), values.size());
  EXPECT_FLOAT_EQ(observer.params(Calibrator::MinMax).scale, 10.0f / 255);
}

TEST(Calibration, PercentileAndEntropyClipTheOutlier) {
  std::vector<float> values = valuesWithOutlier();
  for (Calibrator calibrator : {Calibrator::Percentile, Calibrator::Entropy}) {
    TensorObserver observer;
    observer.observeRange(values.data(), values.size());
    ASSERT_TRUE(TensorObserver::needsHistogram(calibrator));
    observer.observeHistogram(calibrator, values.data(), values.size());
    AffineParams params = observer.params(calibrator);
    // The histogram's bins are 10 / 2048 wide; entropy keeps at least as
    // many bins as levels (256, to 1.25). Both tops are far below 10.
    EXPECT_LT(params.scale * 255, 2.0f) << int(calibrator);
    EXPECT_GT(params.scale * 255, 0.4f) << int(calibrator);
    EXPECT_EQ(params.zeroPoint, 0);
  }
}

TEST(Calibration, NonFiniteValuesAreIgnored) {
  std::vector<float> values = {-2.0f, NAN, INFINITY, 6.0f};
  TensorObserver observer;
  observer.observeRange(values.data(), values.size());
  EXPECT_EQ(observer.min(), -2.0f);
  EXPECT_EQ(observer.max(), 6.0f);
}

TEST(Calibration, EntropyKeepsAnUnclippedHistogram) {
  // Mass spread evenly over all bins: clipping anything loses information.
  std::vector<uint64_t> flat(2048, 10);
  EXPECT_EQ(entropyThresholdBins(flat, 128), 2048u);
}

onnx::TensorProto floatTensor(const std::string &name,
                              std::vector<int64_t> dims,
                              std::vector<float> values) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims)
    tensor.add_dims(d);
  tensor.set_raw_data(values.data(), values.size() * sizeof(float));
  return tensor;
}

onnx::NodeProto node(const std::string &op, const std::string &name,
                     std::vector<std::string> inputs, std::string output) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto &input : inputs)
    n.add_input(input);
  n.add_output(output);
  return n;
}

/// x -> Conv(w, b) -> Relu -> MaxPool -> Flatten -> Gemm(fc) -> logits
onnx::GraphProto smallCnn() {
  onnx::GraphProto graph;
  graph.add_input()->set_name("x");
  graph.add_output()->set_name("logits");
  *graph.add_initializer() = floatTensor("w", {2, 1, 1, 1}, {0.5f, -0.25f});
  *graph.add_initializer() = floatTensor("b", {2}, {0.1f, 0.2f});
  *graph.add_initializer() =
      floatTensor("fc", {3, 2}, {1.27f, -0.635f, 0.1f, 0.2f, 0.3f, -0.4f});
  *graph.add_node() = node("Conv", "conv", {"x", "w", "b"}, "c");
  *graph.add_node() = node("Relu", "relu", {"c"}, "r");
  *graph.add_node() = node("MaxPool", "pool", {"r"}, "p");
  *graph.add_node() = node("Flatten", "flatten", {"p"}, "f");
  auto gemm = node("Gemm", "gemm", {"f", "fc"}, "logits");
  auto *transB = gemm.add_attribute();
  transB->set_name("transB");
  transB->set_type(onnx::AttributeProto::INT);
  transB->set_i(1);
  *graph.add_node() = gemm;
  return graph;
}

TEST(QdqGraph, FindsUnitsAndSharesParameters) {
  onnx::GraphProto graph = smallCnn();
  QdqGraph plan(graph, {});
  ASSERT_EQ(plan.units().size(), 3u);
  EXPECT_EQ(plan.units()[0].anchorOp, "Conv");
  EXPECT_EQ(plan.units()[0].output, "r"); // the ReLU is absorbed
  EXPECT_EQ(plan.units()[1].anchorOp, "MaxPool");
  EXPECT_EQ(plan.units()[2].anchorOp, "Gemm");
  EXPECT_EQ(plan.units()[2].weightAxis, 0); // transB: [N, K]
  // The Gemm's output is the graph's: it stays float.
  std::vector<std::string> quantized = plan.quantizedTensors();
  EXPECT_EQ(quantized, (std::vector<std::string>{"x", "r", "p", "f"}));
  // Max pool and flatten move values: they keep the ReLU's parameters.
  EXPECT_EQ(plan.paramsSource("f"), "r");
  EXPECT_EQ(plan.calibratedTensors(), (std::vector<std::string>{"x", "r"}));
}

TEST(QdqGraph, KeepFloatDropsTheUnit) {
  onnx::GraphProto graph = smallCnn();
  QdqGraph plan(graph, {"gemm", "no_such_node"});
  EXPECT_EQ(plan.units().size(), 2u);
  EXPECT_EQ(plan.unknownKeepFloat, std::vector<std::string>{"no_such_node"});
}

TEST(QdqGraph, WritesPerChannelWeightsAndInt32Bias) {
  onnx::GraphProto graph = smallCnn();
  QdqGraph plan(graph, {});
  llvm::StringMap<AffineParams> params;
  params["x"] = {0.5f, 10};
  params["r"] = {0.1f, 0};
  auto read = [](const onnx::TensorProto &tensor, std::vector<float> &values,
                 std::string &) {
    const std::string &raw = tensor.raw_data();
    values.resize(raw.size() / sizeof(float));
    std::memcpy(values.data(), raw.data(), raw.size());
    return true;
  };
  onnx::GraphProto out;
  std::string error;
  ASSERT_TRUE(plan.writeQdq(params, read, out, error)) << error;
  auto initializer = [&](const std::string &name) -> const onnx::TensorProto * {
    for (const auto &init : out.initializer())
      if (init.name() == name)
        return &init;
    return nullptr;
  };
  // fc rows (transB [N, K]): max |row| 1.27, 0.2, 0.4 -> scales 0.01,
  // 0.2/127, 0.4/127.
  const onnx::TensorProto *fc = initializer("fc_quantized");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->data_type(), onnx::TensorProto::INT8);
  const auto *q = reinterpret_cast<const int8_t *>(fc->raw_data().data());
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -64); // -0.635 / 0.01 = -63.5, to even
  EXPECT_EQ(q[4], 95);  // 0.3 / (0.4 / 127) = 95.25
  EXPECT_EQ(q[5], -127);
  // Conv bias: b / (0.5 * w scale): 0.1 / (0.5 * 0.5/127) = 50.8 -> 51.
  const onnx::TensorProto *bias = initializer("b_quantized");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->data_type(), onnx::TensorProto::INT32);
  EXPECT_EQ(reinterpret_cast<const int32_t *>(bias->raw_data().data())[0], 51);
  // The float weights are gone; every Q has its DQ.
  EXPECT_EQ(initializer("fc"), nullptr);
  int quantizeNodes = 0, dequantizeNodes = 0;
  for (const auto &n : out.node()) {
    quantizeNodes += n.op_type() == "QuantizeLinear";
    dequantizeNodes += n.op_type() == "DequantizeLinear";
  }
  EXPECT_EQ(quantizeNodes, 4);
  EXPECT_EQ(dequantizeNodes, 4 + 3); // two weights, one bias
}

} // namespace
