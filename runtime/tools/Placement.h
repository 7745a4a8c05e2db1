//===- Placement.h - A bundle's partitions, transfers and graph -*- C++ -*-===//
//
// What `kiln inspect` says about a bundle compiled for a GPU: its partitions
// (runs of consecutive dispatches on one device, in schedule order), its
// transfers, and the data flow between dispatches as a Graphviz graph
// coloured by device. Everything comes from the schedule: the dispatches'
// devices and their bindings' access flags.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TOOLS_PLACEMENT_H
#define KILN_RUNTIME_TOOLS_PLACEMENT_H

#include "kiln/kiln.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::tools {

struct Partition {
  uint32_t device = KILN_DEVICE_CPU;
  uint32_t firstDispatch = 0, lastDispatch = 0; // transfers included
  uint32_t dispatches = 0;                      // transfers not counted
  uint64_t flops = 0;
  std::string firstNode; // the first ONNX node of its first dispatch
};

struct TransferTotals {
  uint32_t count = 0;
  uint64_t bytes = 0;
};

struct Placement {
  std::vector<Partition> partitions;
  TransferTotals toCuda, toCpu;
};

/// The partitions and transfers of `model`'s schedule.
Placement describePlacement(const kiln_model *model);

/// What a CUDA executable section holds: "cubin sm_75, ..., PTX compute_90;
/// 42 kernel launches"; "malformed CUDA image" when its tables do not fit.
std::string describeCudaImage(const void *image, uint64_t size);

/// "cpu", "cuda"; "device N" for values a newer bundle may hold.
std::string deviceName(uint32_t device);

/// The data flow between `model`'s dispatches, transfers and tensors as a
/// Graphviz digraph, each dispatch filled with its device's colour.
std::string placementGraphDot(const kiln_model *model,
                              const std::string &title);

/// Writes the graph to `path`: DOT text for `.dot`, an SVG drawn by
/// Graphviz's `dot` for `.svg`. Returns false with `error` set.
bool writePlacementGraph(const kiln_model *model, const std::string &title,
                         const std::string &path, std::string &error);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_PLACEMENT_H
