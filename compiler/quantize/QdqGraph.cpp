//===- QdqGraph.cpp - which ONNX nodes go int8, and the QDQ model ---------===//

#include "compiler/quantize/QdqGraph.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::quantize {

namespace {

/// Ops that move or relabel values without changing them: their output
/// takes their input's quantization parameters.
bool movesValues(const std::string &op) {
  return op == "Reshape" || op == "Flatten" || op == "Transpose" ||
         op == "Squeeze" || op == "Unsqueeze" || op == "Identity";
}

const onnx::AttributeProto *attribute(const onnx::NodeProto &node,
                                      const std::string &name) {
  for (const auto &attr : node.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

int64_t intAttribute(const onnx::NodeProto &node, const std::string &name,
                     int64_t otherwise) {
  const auto *attr = attribute(node, name);
  return attr ? attr->i() : otherwise;
}

float floatAttribute(const onnx::NodeProto &node, const std::string &name,
                     float otherwise) {
  const auto *attr = attribute(node, name);
  return attr ? attr->f() : otherwise;
}

bool hasInput(const onnx::NodeProto &node, int index) {
  return node.input_size() > index && !node.input(index).empty();
}

int64_t elementCount(const onnx::TensorProto &tensor) {
  int64_t count = 1;
  for (int64_t d : tensor.dims())
    count *= d;
  return count;
}

/// Every name the nodes of `graph` (and their subgraphs) read.
void collectReads(const onnx::GraphProto &graph, llvm::StringSet<> &reads) {
  for (const auto &node : graph.node()) {
    for (const auto &input : node.input())
      reads.insert(input);
    for (const auto &attr : node.attribute()) {
      if (attr.has_g())
        collectReads(attr.g(), reads);
      for (const auto &g : attr.graphs())
        collectReads(g, reads);
    }
  }
}

/// Drops the nodes no graph output depends on, then the initializers
/// nothing reads.
void removeUnused(onnx::GraphProto &graph) {
  llvm::StringSet<> needed;
  for (const auto &output : graph.output())
    needed.insert(output.name());
  std::vector<bool> live(graph.node_size(), false);
  for (int i = graph.node_size() - 1; i >= 0; --i) {
    const auto &node = graph.node(i);
    for (const auto &output : node.output())
      live[i] = live[i] || needed.contains(output);
    if (!live[i])
      continue;
    for (const auto &input : node.input())
      needed.insert(input);
    for (const auto &attr : node.attribute()) {
      if (attr.has_g())
        collectReads(attr.g(), needed);
      for (const auto &g : attr.graphs())
        collectReads(g, needed);
    }
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < graph.node_size(); ++i)
    if (live[i])
      *nodes.Add() = std::move(*graph.mutable_node(i));
  graph.mutable_node()->Swap(&nodes);
  google::protobuf::RepeatedPtrField<onnx::TensorProto> initializers;
  for (auto &init : *graph.mutable_initializer())
    if (needed.contains(init.name()))
      *initializers.Add() = std::move(init);
  graph.mutable_initializer()->Swap(&initializers);
}

onnx::TensorProto makeTensor(const std::string &name, int32_t dataType,
                             const std::vector<int64_t> &dims, const void *data,
                             size_t bytes) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(dataType);
  for (int64_t d : dims)
    tensor.add_dims(d);
  tensor.set_raw_data(data, bytes);
  return tensor;
}

onnx::NodeProto makeNode(const std::string &op, const std::string &name,
                         std::vector<std::string> inputs,
                         const std::string &output, int64_t axis = -1) {
  onnx::NodeProto node;
  node.set_op_type(op);
  node.set_name(name);
  for (auto &input : inputs)
    node.add_input(input);
  node.add_output(output);
  if (axis >= 0) {
    auto *attr = node.add_attribute();
    attr->set_name("axis");
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(axis);
  }
  return node;
}

} // namespace

QdqGraph::QdqGraph(const onnx::GraphProto &graph,
                   const std::vector<std::string> &keepFloat)
    : graph(graph) {
  for (const auto &init : graph.initializer())
    constants[init.name()] = &init;
  for (const auto &input : graph.input())
    if (!constants.count(input.name()))
      graphInputs.insert(input.name());
  for (const auto &output : graph.output())
    graphOutputs.insert(output.name());
  llvm::StringSet<> nodeNames;
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto &node = graph.node(i);
    nodeNames.insert(node.name());
    for (const auto &output : node.output())
      producer[output] = i;
    for (const auto &input : node.input())
      if (!input.empty())
        consumers[input].push_back(i);
    if (node.op_type() == "Constant" && node.output_size() == 1)
      if (const auto *value = attribute(node, "value"); value && value->has_t())
        constants[node.output(0)] = &value->t();
  }
  llvm::StringSet<> keep;
  for (const std::string &name : keepFloat) {
    keep.insert(name);
    if (!nodeNames.contains(name))
      unknownKeepFloat.push_back(name);
  }
  findUnits(keep);

  // Each unit's inputs are quantized; so is its output where some unit
  // reads it (directly or through reshapes), never a graph output.
  llvm::StringSet<> marked;
  auto mark = [&](const std::string &tensor) {
    if (!graphOutputs.contains(tensor) && marked.insert(tensor).second)
      quantized.push_back(tensor);
  };
  for (const QuantizedUnit &unit : unitList)
    for (const std::string &input : unit.inputs)
      unitInputs.insert(input);
  for (const QuantizedUnit &unit : unitList) {
    for (const std::string &input : unit.inputs)
      mark(input);
    if (feedsUnit(unit.output))
      mark(unit.output);
  }
  // Values moved by reshapes (and a max pool's) keep their source's
  // parameters, so the int8 graph moves them as bytes.
  for (const auto &node : graph.node()) {
    bool maxPool = node.op_type() == "MaxPool";
    if ((movesValues(node.op_type()) || maxPool) && node.input_size() > 0 &&
        marked.contains(node.input(0)) && node.output_size() > 0 &&
        marked.contains(node.output(0)))
      sharedParams[node.output(0)] = node.input(0);
  }
  // Names of the new tensors, unique in the graph.
  llvm::StringSet<> names;
  for (const auto &entry : producer)
    names.insert(entry.getKey());
  for (const auto &entry : constants)
    names.insert(entry.getKey());
  for (const auto &entry : graphInputs)
    names.insert(entry.getKey());
  auto unique = [&](std::string base) {
    std::string name = base;
    for (int i = 1; !names.insert(name).second; ++i)
      name = base + "_" + std::to_string(i);
    return name;
  };
  for (const std::string &tensor : quantized)
    qdqNames[tensor] = {
        unique(tensor + "_quantized"), unique(tensor + "_dequantized"),
        unique(tensor + "_scale"), unique(tensor + "_zero_point")};
  for (const QuantizedUnit &unit : unitList) {
    if (!unit.weight.empty() && !qdqNames.count(unit.weight))
      qdqNames[unit.weight] = {unique(unit.weight + "_quantized"),
                               unique(unit.weight + "_dequantized"),
                               unique(unit.weight + "_scale"),
                               unique(unit.weight + "_zero_point")};
    if (!unit.bias.empty())
      biasNames.push_back(
          {unique(unit.bias + "_quantized"), unique(unit.bias + "_dequantized"),
           unique(unit.bias + "_scale"), unique(unit.bias + "_zero_point")});
    else
      biasNames.push_back({});
  }
}

const onnx::TensorProto *QdqGraph::constant(const std::string &name) const {
  for (std::string current = name; !current.empty();) {
    if (auto it = constants.find(current); it != constants.end())
      return it->second;
    auto it = producer.find(current);
    if (it == producer.end())
      return nullptr;
    const auto &node = graph.node(it->second);
    if (node.op_type() != "Identity" || node.input_size() != 1)
      return nullptr;
    current = node.input(0);
  }
  return nullptr;
}

const std::vector<int> &QdqGraph::consumersOf(const std::string &tensor) const {
  static const std::vector<int> none;
  auto it = consumers.find(tensor);
  return it == consumers.end() ? none : it->second;
}

bool QdqGraph::feedsUnit(const std::string &tensor, int depth) const {
  if (unitInputs.contains(tensor))
    return true;
  if (depth > 16)
    return false;
  for (int index : consumersOf(tensor)) {
    const auto &node = graph.node(index);
    if (movesValues(node.op_type()) && node.input(0) == tensor &&
        feedsUnit(node.output(0), depth + 1))
      return true;
  }
  return false;
}

void QdqGraph::findUnits(const llvm::StringSet<> &keepFloat) {
  std::vector<bool> claimed(graph.node_size(), false);
  auto isActivation = [&](const std::string &name) {
    return !name.empty() && !isConstant(name);
  };
  auto isFloatConstant = [&](const std::string &name, int rank) {
    const onnx::TensorProto *tensor = constant(name);
    return tensor && tensor->data_type() == onnx::TensorProto::FLOAT &&
           (rank < 0 || tensor->dims_size() == rank);
  };
  for (int i = 0; i < graph.node_size(); ++i) {
    if (claimed[i])
      continue;
    const auto &node = graph.node(i);
    const std::string &op = node.op_type();
    if (node.output_size() < 1 || !node.domain().empty())
      continue;
    QuantizedUnit unit;
    unit.anchorOp = op;
    if (op == "Conv") {
      if (!isActivation(node.input(0)) || !hasInput(node, 1))
        continue;
      const onnx::TensorProto *weight = constant(node.input(1));
      if (!weight || weight->data_type() != onnx::TensorProto::FLOAT ||
          weight->dims_size() < 3)
        continue;
      if (hasInput(node, 2) && !isFloatConstant(node.input(2), 1))
        continue;
      unit.inputs = {node.input(0)};
      unit.weight = node.input(1);
      unit.weightAxis = 0;
      unit.bias = hasInput(node, 2) ? node.input(2) : "";
    } else if (op == "Gemm") {
      if (node.input_size() < 2 || !isActivation(node.input(0)) ||
          !isFloatConstant(node.input(1), 2) ||
          intAttribute(node, "transA", 0) != 0 ||
          floatAttribute(node, "alpha", 1.0f) != 1.0f)
        continue;
      bool transB = intAttribute(node, "transB", 0) != 0;
      const onnx::TensorProto *b = constant(node.input(1));
      int64_t columns = b->dims(transB ? 0 : 1);
      if (hasInput(node, 2)) {
        const onnx::TensorProto *c = constant(node.input(2));
        if (!c || c->data_type() != onnx::TensorProto::FLOAT ||
            elementCount(*c) != columns ||
            floatAttribute(node, "beta", 1.0f) != 1.0f)
          continue;
      }
      unit.inputs = {node.input(0)};
      unit.weight = node.input(1);
      unit.weightAxis = transB ? 0 : 1;
      unit.bias = hasInput(node, 2) ? node.input(2) : "";
    } else if (op == "MatMul") {
      if (node.input_size() != 2 || !isActivation(node.input(0)))
        continue;
      if (isFloatConstant(node.input(1), 2)) {
        unit.inputs = {node.input(0)};
        unit.weight = node.input(1);
        unit.weightAxis = 1;
      } else if (isActivation(node.input(1))) {
        unit.inputs = {node.input(0), node.input(1)};
      } else {
        continue;
      }
    } else if (op == "Add") {
      if (node.input_size() != 2 || !isActivation(node.input(0)) ||
          !isActivation(node.input(1)))
        continue;
      unit.inputs = {node.input(0), node.input(1)};
    } else if (op == "MaxPool" || op == "AveragePool" ||
               op == "GlobalAveragePool") {
      if (node.output_size() > 1 && !node.output(1).empty())
        continue; // MaxPool's indices
      if (!isActivation(node.input(0)))
        continue;
      unit.inputs = {node.input(0)};
    } else if (op == "Concat") {
      if (!llvm::all_of(node.input(), isActivation))
        continue;
      unit.inputs.assign(node.input().begin(), node.input().end());
    } else {
      continue;
    }
    unit.nodes = {i};
    unit.output = node.output(0);
    absorbEpilogue(unit);
    if (llvm::any_of(unit.nodes, [&](int n) {
          return keepFloat.contains(graph.node(n).name());
        }))
      continue;
    // A unit input that is also a graph output stays float: the int8 graph
    // would otherwise have to keep both.
    if (llvm::any_of(unit.inputs, [&](const std::string &input) {
          return graphOutputs.contains(input);
        }))
      continue;
    for (int n : unit.nodes)
      claimed[n] = true;
    unitList.push_back(std::move(unit));
  }
}

void QdqGraph::absorbEpilogue(QuantizedUnit &unit) const {
  const std::string &anchor = unit.anchorOp;
  bool contraction = anchor == "Conv" || anchor == "Gemm" || anchor == "MatMul";
  if (!contraction && anchor != "Add")
    return;
  bool hasBias = !unit.bias.empty() || !contraction;
  bool hasActivation = false;
  while (!graphOutputs.contains(unit.output) && !hasActivation) {
    const std::vector<int> &next = consumersOf(unit.output);
    if (next.size() != 1)
      return;
    const auto &node = graph.node(next[0]);
    const std::string &op = node.op_type();
    if (op == "Relu") {
      hasActivation = true;
    } else if (op == "Clip") {
      for (int input = 1; input < node.input_size(); ++input)
        if (!node.input(input).empty() && !isConstant(node.input(input)))
          return;
      hasActivation = true;
    } else if (op == "Add" && !hasBias && node.input_size() == 2) {
      const std::string &other =
          node.input(0) == unit.output ? node.input(1) : node.input(0);
      if (!isConstant(other))
        return;
      hasBias = true;
    } else {
      return;
    }
    unit.nodes.push_back(next[0]);
    unit.output = node.output(0);
  }
}

std::vector<std::string> QdqGraph::calibratedTensors() const {
  std::vector<std::string> tensors;
  for (const std::string &tensor : quantized)
    if (!sharedParams.count(tensor))
      tensors.push_back(tensor);
  return tensors;
}

std::string QdqGraph::paramsSource(const std::string &tensor) const {
  std::string source = tensor;
  for (auto it = sharedParams.find(source); it != sharedParams.end();
       it = sharedParams.find(source))
    source = it->second;
  return source;
}

std::string QdqGraph::dequantizedName(const std::string &tensor) const {
  auto it = qdqNames.find(tensor);
  return it == qdqNames.end() ? tensor : it->second.dequantized;
}

bool QdqGraph::writeQdq(const llvm::StringMap<AffineParams> &params,
                        const ConstantReader &readConstant,
                        onnx::GraphProto &out, std::string &error) const {
  out = graph;
  std::vector<onnx::NodeProto> weightNodes;
  llvm::StringMap<std::vector<float>> weightScales;
  // Weights: int8, symmetric, one scale per output channel.
  for (const QuantizedUnit &unit : unitList) {
    if (unit.weight.empty() || weightScales.count(unit.weight))
      continue;
    const onnx::TensorProto &tensor = *constant(unit.weight);
    std::vector<float> values;
    if (!readConstant(tensor, values, error)) {
      error = "weight '" + unit.weight + "': " + error;
      return false;
    }
    std::vector<int64_t> dims(tensor.dims().begin(), tensor.dims().end());
    int64_t channels = dims[unit.weightAxis], inner = 1;
    for (size_t d = unit.weightAxis + 1; d < dims.size(); ++d)
      inner *= dims[d];
    std::vector<float> maxAbs(channels, 0.0f);
    for (size_t i = 0; i < values.size(); ++i) {
      int64_t c = (i / inner) % channels;
      maxAbs[c] = std::max(maxAbs[c], std::fabs(values[i]));
    }
    std::vector<float> scales(channels);
    for (int64_t c = 0; c < channels; ++c)
      scales[c] =
          maxAbs[c] > 0 && std::isfinite(maxAbs[c]) ? maxAbs[c] / 127.0f : 1.0f;
    std::vector<int8_t> quantizedValues(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      quantizedValues[i] = static_cast<int8_t>(
          std::clamp(std::nearbyint(values[i] / scales[(i / inner) % channels]),
                     -127.0f, 127.0f));
    std::vector<int8_t> zeros(channels, 0);
    const QdqNames &names = qdqNames.find(unit.weight)->second;
    *out.add_initializer() =
        makeTensor(names.quantized, onnx::TensorProto::INT8, dims,
                   quantizedValues.data(), quantizedValues.size());
    *out.add_initializer() =
        makeTensor(names.scale, onnx::TensorProto::FLOAT, {channels},
                   scales.data(), scales.size() * sizeof(float));
    *out.add_initializer() =
        makeTensor(names.zeroPoint, onnx::TensorProto::INT8, {channels},
                   zeros.data(), zeros.size());
    weightNodes.push_back(
        makeNode("DequantizeLinear", names.dequantized + "_DequantizeLinear",
                 {names.quantized, names.scale, names.zeroPoint},
                 names.dequantized, unit.weightAxis));
    weightScales[unit.weight] = std::move(scales);
  }
  // Biases: int32 at the input's scale times each channel's weight scale.
  for (auto [index, unit] : llvm::enumerate(unitList)) {
    if (unit.bias.empty())
      continue;
    std::vector<float> values;
    if (!readConstant(*constant(unit.bias), values, error)) {
      error = "bias '" + unit.bias + "': " + error;
      return false;
    }
    const std::vector<float> &weightScale = weightScales[unit.weight];
    if (values.size() != weightScale.size()) {
      error = "bias '" + unit.bias + "' has " + std::to_string(values.size()) +
              " values for " + std::to_string(weightScale.size()) +
              " output channels";
      return false;
    }
    float inputScale = params.lookup(paramsSource(unit.inputs[0])).scale;
    int64_t channels = values.size();
    std::vector<float> scales(channels);
    std::vector<int32_t> quantizedValues(channels), zeros(channels, 0);
    for (int64_t c = 0; c < channels; ++c) {
      scales[c] = inputScale * weightScale[c];
      double q = std::nearbyint(static_cast<double>(values[c]) / scales[c]);
      quantizedValues[c] =
          static_cast<int32_t>(std::clamp(q, -2147483647.0, 2147483647.0));
    }
    const QdqNames &names = biasNames[index];
    *out.add_initializer() =
        makeTensor(names.quantized, onnx::TensorProto::INT32, {channels},
                   quantizedValues.data(), channels * sizeof(int32_t));
    *out.add_initializer() =
        makeTensor(names.scale, onnx::TensorProto::FLOAT, {channels},
                   scales.data(), channels * sizeof(float));
    *out.add_initializer() =
        makeTensor(names.zeroPoint, onnx::TensorProto::INT32, {channels},
                   zeros.data(), channels * sizeof(int32_t));
    weightNodes.push_back(makeNode(
        "DequantizeLinear", names.dequantized + "_DequantizeLinear",
        {names.quantized, names.scale, names.zeroPoint}, names.dequantized, 0));
  }
  // Activations: scale and zero point, and the Q/DQ pair after the
  // producer.
  llvm::StringSet<> quantizedSet;
  for (const std::string &tensor : quantized) {
    quantizedSet.insert(tensor);
    const QdqNames &names = qdqNames.find(tensor)->second;
    auto it = params.find(paramsSource(tensor));
    if (it == params.end()) {
      error = "no calibrated range for '" + tensor + "'";
      return false;
    }
    float scale = it->second.scale;
    uint8_t zeroPoint = static_cast<uint8_t>(it->second.zeroPoint);
    *out.add_initializer() = makeTensor(names.scale, onnx::TensorProto::FLOAT,
                                        {}, &scale, sizeof(scale));
    *out.add_initializer() = makeTensor(
        names.zeroPoint, onnx::TensorProto::UINT8, {}, &zeroPoint, 1);
  }
  auto appendPair =
      [&](google::protobuf::RepeatedPtrField<onnx::NodeProto> &nodes,
          const std::string &tensor) {
        const QdqNames &names = qdqNames.find(tensor)->second;
        *nodes.Add() =
            makeNode("QuantizeLinear", tensor + "_QuantizeLinear",
                     {tensor, names.scale, names.zeroPoint}, names.quantized);
        *nodes.Add() = makeNode(
            "DequantizeLinear", tensor + "_DequantizeLinear",
            {names.quantized, names.scale, names.zeroPoint}, names.dequantized);
      };
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (onnx::NodeProto &node : weightNodes)
    *nodes.Add() = std::move(node);
  for (const std::string &tensor : quantized)
    if (graphInputs.contains(tensor))
      appendPair(nodes, tensor);
  std::vector<int> unitOf(graph.node_size(), -1);
  for (auto [index, unit] : llvm::enumerate(unitList))
    unitOf[unit.nodes.front()] = index;
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto node = graph.node(i);
    for (auto &input : *node.mutable_input())
      if (quantizedSet.contains(input))
        input = qdqNames.find(input)->second.dequantized;
    if (int index = unitOf[i]; index >= 0) {
      const QuantizedUnit &unit = unitList[index];
      if (!unit.weight.empty())
        node.set_input(unit.weightInput,
                       qdqNames.find(unit.weight)->second.dequantized);
      if (!unit.bias.empty())
        node.set_input(unit.biasInput, biasNames[index].dequantized);
    }
    *nodes.Add() = std::move(node);
    for (const auto &output : graph.node(i).output())
      if (quantizedSet.contains(output))
        appendPair(nodes, output);
  }
  out.mutable_node()->Swap(&nodes);
  removeUnused(out);
  return true;
}

} // namespace kiln::quantize
