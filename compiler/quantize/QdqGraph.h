//===- QdqGraph.h - which ONNX nodes go int8, and the QDQ model -*- C++ -*-===//
//
// The quantizer's decisions at the ONNX level: the units computed in int8
// (a convolution or matrix product with its bias and activation, a residual
// add, a pool, a concat), the activations they read and write (each gets a
// QuantizeLinear/DequantizeLinear pair), and the model that carries those
// pairs with int8 weights and int32 biases.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_QUANTIZE_QDQGRAPH_H
#define KILN_COMPILER_QUANTIZE_QDQGRAPH_H

#include "compiler/quantize/Calibration.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <string>
#include <vector>

namespace kiln::quantize {

/// A group of ONNX nodes computed as one int8 operation.
struct QuantizedUnit {
  std::vector<int> nodes; // the anchor first, then the epilogue it absorbs
  std::string anchorOp;   // Conv, Gemm, MatMul, Add, MaxPool, ...
  /// The float activations it reads; each is quantized.
  std::vector<std::string> inputs;
  std::string output; // the last node's output
  /// Contractions with constant weights: the weight (per output channel
  /// along weightAxis) and bias inputs of the anchor ("" for none).
  std::string weight, bias;
  int weightAxis = 0;
  int weightInput = 1, biasInput = 2;
};

/// A float tensor that is read in int8 from a constant (TensorProto).
using ConstantReader = std::function<bool(const onnx::TensorProto &,
                                          std::vector<float> &, std::string &)>;

class QdqGraph {
public:
  /// Finds the units of `graph` (none containing a node of `keepFloat`).
  QdqGraph(const onnx::GraphProto &graph,
           const std::vector<std::string> &keepFloat);

  /// Node names of `keepFloat` that the graph does not have.
  std::vector<std::string> unknownKeepFloat;

  const std::vector<QuantizedUnit> &units() const { return unitList; }
  /// Activations that get a QuantizeLinear/DequantizeLinear pair.
  const std::vector<std::string> &quantizedTensors() const { return quantized; }
  /// The tensors whose parameters calibration must choose: the quantized
  /// ones that do not share another's (a reshape's output shares its
  /// input's).
  std::vector<std::string> calibratedTensors() const;
  /// The tensor whose parameters `tensor` takes (itself unless shared).
  std::string paramsSource(const std::string &tensor) const;
  bool isGraphInput(const std::string &tensor) const {
    return graphInputs.contains(tensor);
  }

  /// The graph rewritten with `params` of every calibrated tensor: int8
  /// weights, int32 biases, a Q/DQ pair on each quantized activation.
  /// Unused nodes and initializers are dropped. False with `error` when a
  /// weight cannot be read.
  bool writeQdq(const llvm::StringMap<AffineParams> &params,
                const ConstantReader &readConstant, onnx::GraphProto &out,
                std::string &error) const;

  /// The name the QDQ graph gives the dequantized value of `tensor` (the
  /// value its consumers read), or `tensor` when it is not quantized.
  std::string dequantizedName(const std::string &tensor) const;

private:
  const onnx::TensorProto *constant(const std::string &name) const;
  bool isConstant(const std::string &name) const {
    return constant(name) != nullptr;
  }
  const std::vector<int> &consumersOf(const std::string &tensor) const;
  void findUnits(const llvm::StringSet<> &keepFloat);
  void absorbEpilogue(QuantizedUnit &unit) const;
  bool feedsUnit(const std::string &tensor, int depth = 0) const;

  /// The names of the tensors and nodes the QDQ graph adds for one
  /// quantized value, unique in the graph.
  struct QdqNames {
    std::string quantized, dequantized, scale, zeroPoint;
  };

  const onnx::GraphProto &graph;
  llvm::StringMap<QdqNames> qdqNames; // activations and weights
  std::vector<QdqNames> biasNames;    // per unit; empty names for none
  llvm::StringMap<int> producer;
  llvm::StringMap<std::vector<int>> consumers;
  llvm::StringMap<const onnx::TensorProto *> constants;
  llvm::StringSet<> graphInputs, graphOutputs;
  std::vector<QuantizedUnit> unitList;
  llvm::StringSet<> unitInputs;
  std::vector<std::string> quantized;
  llvm::StringMap<std::string> sharedParams;
};

} // namespace kiln::quantize

#endif // KILN_COMPILER_QUANTIZE_QDQGRAPH_H
