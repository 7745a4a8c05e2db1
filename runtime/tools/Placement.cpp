//===- Placement.cpp - A bundle's partitions, transfers and graph ---------===//

#include "Placement.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace kiln::tools {
namespace {

/// The first node of a dispatch's ", "-separated node list.
std::string firstNodeOf(const kiln_model *model, uint32_t dispatch) {
  std::string nodes = kiln_model_dispatch_nodes(model, dispatch);
  return nodes.substr(0, nodes.find(", "));
}

/// Bytes a transfer copies: its one binding.
uint64_t transferBytes(const kiln_model *model, uint32_t dispatch) {
  kiln_binding_info binding;
  if (kiln_model_dispatch_binding(model, dispatch, 0, &binding) != KILN_OK)
    return 0;
  return binding.size;
}

/// Escapes `text` for a double-quoted DOT string.
std::string quoted(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string shortBytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (1u << 20))
    std::snprintf(text, sizeof(text), "%.1f MiB", bytes / 1048576.0);
  else if (bytes >= 1024)
    std::snprintf(text, sizeof(text), "%.1f KiB", bytes / 1024.0);
  else
    std::snprintf(text, sizeof(text), "%llu B", (unsigned long long)bytes);
  return text;
}

const char *fillColour(uint32_t device) {
  return device == KILN_DEVICE_CUDA ? "#b7e4a0" : "#b3d4f5";
}

/// Which graph node last wrote each arena byte range, on one device.
class Writers {
public:
  struct Range {
    uint64_t begin, end;
    std::string node;
  };

  /// The nodes that wrote some byte of [begin, end).
  std::vector<std::string> find(uint64_t begin, uint64_t end) const {
    std::vector<std::string> found;
    for (const Range &range : ranges)
      if (range.begin < end && begin < range.end)
        found.push_back(range.node);
    return found;
  }

  void write(uint64_t begin, uint64_t end, const std::string &node) {
    std::vector<Range> kept;
    for (const Range &range : ranges) {
      if (range.end <= begin || end <= range.begin) {
        kept.push_back(range);
        continue;
      }
      if (range.begin < begin)
        kept.push_back({range.begin, begin, range.node});
      if (end < range.end)
        kept.push_back({end, range.end, range.node});
    }
    kept.push_back({begin, end, node});
    ranges = std::move(kept);
  }

private:
  std::vector<Range> ranges;
};

} // namespace

std::string describeCudaImage(const void *data, uint64_t size) {
  const auto *image = static_cast<const uint8_t *>(data);
  kiln_cuda_image_header header;
  if (!image || size < sizeof(header))
    return "malformed CUDA image";
  std::memcpy(&header, image, sizeof(header));
  if (header.magic != KILN_CUDA_IMAGE_MAGIC ||
      header.binary_count > (size - sizeof(header)) / sizeof(kiln_cuda_binary))
    return "malformed CUDA image";
  std::string cubins, ptx;
  for (uint32_t i = 0; i < header.binary_count; ++i) {
    kiln_cuda_binary binary;
    std::memcpy(&binary, image + sizeof(header) + i * sizeof(binary),
                sizeof(binary));
    std::string &list = binary.kind == KILN_CUDA_BINARY_CUBIN ? cubins : ptx;
    list += (list.empty() ? "" : ", ") +
            std::string(binary.kind == KILN_CUDA_BINARY_CUBIN ? "sm_"
                                                              : "compute_") +
            std::to_string(binary.sm);
  }
  std::string text;
  if (!cubins.empty())
    text += "cubin " + cubins;
  if (!ptx.empty())
    text += (text.empty() ? "" : ", ") + std::string("PTX ") + ptx;
  return text + "; " + std::to_string(header.launch_count) + " kernel launches";
}

std::string deviceName(uint32_t device) {
  switch (device) {
  case KILN_DEVICE_CPU:
    return "cpu";
  case KILN_DEVICE_CUDA:
    return "cuda";
  default:
    return "device " + std::to_string(device);
  }
}

Placement describePlacement(const kiln_model *model) {
  Placement placement;
  for (uint32_t d = 0; d < kiln_model_dispatch_count(model); ++d) {
    uint32_t device = kiln_model_dispatch_device(model, d);
    if (kiln_model_dispatch_is_transfer(model, d)) {
      TransferTotals &totals =
          device == KILN_DEVICE_CUDA ? placement.toCuda : placement.toCpu;
      ++totals.count;
      totals.bytes += transferBytes(model, d);
      if (!placement.partitions.empty())
        placement.partitions.back().lastDispatch = d;
      continue;
    }
    if (placement.partitions.empty() ||
        placement.partitions.back().device != device) {
      Partition partition;
      partition.device = device;
      partition.firstDispatch = d;
      partition.firstNode = firstNodeOf(model, d);
      placement.partitions.push_back(partition);
    }
    Partition &partition = placement.partitions.back();
    partition.lastDispatch = d;
    ++partition.dispatches;
    partition.flops += kiln_model_dispatch_flops(model, d);
  }
  return placement;
}

std::string placementGraphDot(const kiln_model *model,
                              const std::string &title) {
  std::string dot = "digraph kiln {\n  label=" + quoted(title) +
                    ";\n  labelloc=t;\n  node [fontname=\"Helvetica\", "
                    "fontsize=10];\n  edge [color=\"#555555\"];\n";
  std::map<uint32_t, Writers> writers; // per device
  std::set<std::pair<std::string, std::string>> edges;
  auto addEdges = [&](const std::vector<std::string> &from,
                      const std::string &to) {
    for (const std::string &node : from)
      if (node != to && edges.insert({node, to}).second)
        dot += "  " + node + " -> " + to + ";\n";
  };
  /// Writers of [begin, end) on `device`, else on any other device.
  auto producers = [&](uint32_t device, uint64_t begin, uint64_t end) {
    std::vector<std::string> found = writers[device].find(begin, end);
    if (found.empty())
      for (auto &[other, table] : writers)
        if (other != device)
          for (std::string &node : table.find(begin, end))
            found.push_back(node);
    return found;
  };

  for (uint32_t i = 0; i < kiln_model_input_count(model); ++i) {
    kiln_tensor_info info;
    if (kiln_model_input_info(model, i, &info) != KILN_OK)
      continue;
    std::string node = "input" + std::to_string(i);
    dot += "  " + node + " [shape=ellipse, label=" + quoted(info.name) + "];\n";
    // Inputs are written into the host arena.
    uint64_t offset = kiln_model_input_arena_offset(model, i);
    writers[KILN_DEVICE_CPU].write(offset, offset + info.size_bytes, node);
  }

  // The phases of a split dispatch ("name #0", "name #1", ...) are drawn as
  // one node: they are one computation.
  std::string previousName, previousNode;
  for (uint32_t d = 0; d < kiln_model_dispatch_count(model); ++d) {
    uint32_t device = kiln_model_dispatch_device(model, d);
    std::string node = "d" + std::to_string(d);
    bool transfer = kiln_model_dispatch_is_transfer(model, d);
    std::string name = kiln_model_dispatch_name(model, d);
    size_t phase = name.rfind(" #");
    bool laterPhase = phase != std::string::npos &&
                      name.compare(phase, std::string::npos, " #0") != 0 &&
                      name.substr(0, phase) == previousName;
    previousName = phase == std::string::npos ? "" : name.substr(0, phase);
    if (laterPhase) {
      node = previousNode;
    } else if (transfer) {
      dot += "  " + node + " [shape=cds, style=\"filled,dashed\", fillcolor=" +
             quoted(fillColour(device)) + ", label=" +
             quoted("to " + deviceName(device) + "\n" +
                    shortBytes(transferBytes(model, d))) +
             "];\n";
    } else {
      std::string nodes = kiln_model_dispatch_nodes(model, d);
      if (nodes.size() > 60)
        nodes = nodes.substr(0, 57) + "...";
      dot +=
          "  " + node +
          " [shape=box, style=\"filled,rounded\", "
          "fillcolor=" +
          quoted(fillColour(device)) + ", label=" +
          quoted((phase == std::string::npos ? name : name.substr(0, phase)) +
                 (nodes.empty() ? "" : "\n" + nodes)) +
          "];\n";
    }
    previousNode = node;
    uint32_t bindings = kiln_model_dispatch_binding_count(model, d);
    std::vector<kiln_binding_info> written;
    for (uint32_t b = 0; b < bindings; ++b) {
      kiln_binding_info binding;
      if (kiln_model_dispatch_binding(model, d, b, &binding) != KILN_OK ||
          binding.kind != KILN_BUFFER_ARENA ||
          (binding.access & KILN_ACCESS_SCRATCH))
        continue;
      uint64_t begin = binding.offset, end = binding.offset + binding.size;
      // Bundles before 1.6 do not say: every binding may be read and written.
      uint32_t access = binding.access ? binding.access
                                       : KILN_ACCESS_READ | KILN_ACCESS_WRITE;
      if (access & KILN_ACCESS_READ) {
        // A transfer reads the other device's copy.
        std::vector<std::string> from =
            transfer ? producers(device == KILN_DEVICE_CUDA ? KILN_DEVICE_CPU
                                                            : KILN_DEVICE_CUDA,
                                 begin, end)
                     : producers(device, begin, end);
        addEdges(from, node);
      }
      if (access & KILN_ACCESS_WRITE)
        written.push_back(binding);
    }
    for (const kiln_binding_info &binding : written)
      writers[device].write(binding.offset, binding.offset + binding.size,
                            node);
  }
  for (uint32_t i = 0; i < kiln_model_output_count(model); ++i) {
    kiln_tensor_info info;
    if (kiln_model_output_info(model, i, &info) != KILN_OK)
      continue;
    std::string node = "output" + std::to_string(i);
    dot += "  " + node + " [shape=ellipse, label=" + quoted(info.name) + "];\n";
    uint64_t offset = kiln_model_output_arena_offset(model, i);
    addEdges(producers(KILN_DEVICE_CPU, offset, offset + info.size_bytes),
             node);
  }
  dot += "  subgraph cluster_legend {\n    label=\"devices\";\n"
         "    legend_cpu [shape=box, style=\"filled,rounded\", fillcolor=" +
         quoted(fillColour(KILN_DEVICE_CPU)) +
         ", label=\"cpu\"];\n"
         "    legend_cuda [shape=box, style=\"filled,rounded\", fillcolor=" +
         quoted(fillColour(KILN_DEVICE_CUDA)) + ", label=\"cuda\"];\n  }\n";
  return dot + "}\n";
}

bool writePlacementGraph(const kiln_model *model, const std::string &title,
                         const std::string &path, std::string &error) {
  std::filesystem::path target(path);
  std::string extension = target.extension().string();
  if (extension != ".dot" && extension != ".svg") {
    error = "--graph " + path + ": expected a .dot or .svg file name";
    return false;
  }
  std::string dot = placementGraphDot(model, title);
  // Written beside the target and renamed: never a half-written file.
  std::string temporary = path + ".tmp" + std::to_string(getpid());
  bool ok = true;
  if (extension == ".dot") {
    FILE *file = std::fopen(temporary.c_str(), "w");
    ok = file && std::fwrite(dot.data(), 1, dot.size(), file) == dot.size();
    if (file && std::fclose(file) != 0)
      ok = false;
    if (!ok)
      error = "cannot write " + path;
  } else {
    std::string quotedPath = "'";
    for (char c : temporary)
      quotedPath += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quotedPath += "'";
    std::string command = "dot -Tsvg -o " + quotedPath;
    FILE *pipe = popen(command.c_str(), "w");
    ok = pipe && std::fwrite(dot.data(), 1, dot.size(), pipe) == dot.size();
    int status = pipe ? pclose(pipe) : -1;
    if (!ok || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ok = false;
      error = WIFEXITED(status) && WEXITSTATUS(status) == 127
                  ? "--graph " + path +
                        ": Graphviz's dot is not installed (Debian: apt "
                        "install graphviz); a .dot file needs no Graphviz"
                  : "--graph " + path + ": Graphviz's dot failed";
    }
  }
  std::error_code ignored;
  if (!ok) {
    std::filesystem::remove(temporary, ignored);
    return false;
  }
  std::filesystem::rename(temporary, path, ignored);
  if (ignored) {
    std::filesystem::remove(temporary, ignored);
    error = "cannot write " + path;
    return false;
  }
  return true;
}

} // namespace kiln::tools
