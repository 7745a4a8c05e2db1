//===- RuntimeCommands.cpp - kiln run / bench / inspect -------------------===//
//
// Every failure is reported as "kiln: error: <message>" on stderr with exit
// code 1; bundles are never trusted (the runtime verifies them), so a bad file
// gives a message, never a crash.
//
//===----------------------------------------------------------------------===//

#include "RuntimeCommands.h"

#include "JsonWriter.h"
#include "NpyFile.h"
#include "Placement.h"
#include "RandomTensor.h"
#include "TensorProto.h"
#include "kiln/kiln.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>

namespace kiln::tools {
namespace {

/// Thrown inside a command to stop it with "kiln: error: <message>".
struct CommandError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw CommandError{std::move(message)};
}

void check(kiln_status status) {
  if (status != KILN_OK)
    fail(kiln_last_error());
}

/// Runs a command body, turning every failure into a message and exit code 1.
template <typename Body> int runCommand(Body body) {
  try {
    body();
    return 0;
  } catch (const CommandError &error) {
    std::fprintf(stderr, "kiln: error: %s\n", error.message.c_str());
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "kiln: error: out of memory\n");
  } catch (const std::exception &error) {
    std::fprintf(stderr, "kiln: error: %s\n", error.what());
  }
  return 1;
}

std::vector<kiln_tensor_info> tensorInfos(const Model &model, bool outputs) {
  std::vector<kiln_tensor_info> infos;
  uint32_t count = outputs ? model.outputCount() : model.inputCount();
  for (uint32_t i = 0; i < count; ++i) {
    kiln_tensor_info info;
    check(outputs ? model.outputInfo(i, info) : model.inputInfo(i, info));
    infos.push_back(info);
  }
  return infos;
}

std::string describe(const kiln_tensor_info &info) {
  return describeTensorType(info.dtype, info.dims, info.rank);
}

std::string inputNameList(const std::vector<kiln_tensor_info> &inputs) {
  std::string names;
  for (const kiln_tensor_info &info : inputs)
    names += std::string(names.empty() ? "" : ", ") + info.name + " (" +
             describe(info) + ")";
  return names.empty() ? "none" : names;
}

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Output names may contain '/' or ':' (ONNX allows anything); keep file
/// names portable and inside the output directory.
std::string fileNameFor(const std::string &name) {
  std::string safe = name;
  for (char &c : safe)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      c = '_';
  if (safe.empty() || safe == "." || safe == "..")
    safe = "_" + safe;
  return safe;
}

Model openModel(const std::string &path, uint32_t flags) {
  Model model;
  check(model.openFile(path.c_str(), flags));
  return model;
}

/// `--device`: auto (the default), cpu or cuda.
kiln_device_request parseDevice(const std::string &device) {
  if (device == "auto")
    return KILN_RUN_ON_AUTO;
  if (device == "cpu")
    return KILN_RUN_ON_CPU;
  if (device == "cuda")
    return KILN_RUN_ON_CUDA;
  fail("--device '" + device + "': expected auto, cpu or cuda");
}

/// A session on `device`; when auto falls back to the CPU from a bundle
/// with GPU code, says why, once.
Session createSession(Model &model, uint32_t threads,
                      const std::string &device) {
  Session session;
  check(session.create(model, threads, parseDevice(device)));
  if (*session.fallbackReason())
    std::fprintf(stderr, "kiln: note: running on the CPU: %s\n",
                 session.fallbackReason());
  return session;
}

void fillRandomInputs(Session &session, const Model &model, uint64_t seed,
                      const std::vector<bool> &given) {
  std::vector<kiln_tensor_info> inputs = tensorInfos(model, false);
  for (uint32_t i = 0; i < inputs.size(); ++i) {
    if (i < given.size() && given[i])
      continue;
    fillRandom(inputs[i].dtype, session.inputData(i), inputs[i].size_bytes,
               seed, i);
  }
}

//===----------------------------------------------------------------------===//
// run
//===----------------------------------------------------------------------===//

struct RunOptions {
  std::string bundle;
  std::vector<std::string> inputs;
  std::string outputDir = ".";
  uint32_t threads = 0;
  std::string device = "auto";
  uint64_t seed = 0;
  bool verify = false;
  bool trustWeights = false;
};

HostTensor loadInputFile(const std::string &path) {
  HostTensor tensor;
  std::string error;
  bool ok;
  if (endsWith(path, ".npy"))
    ok = readNpy(path, tensor, error);
  else if (endsWith(path, ".pb"))
    ok = readTensorProto(path, tensor, error);
  else
    fail(path + ": unknown input file type (expected .npy or .pb)");
  if (!ok)
    fail(error);
  return tensor;
}

void runBundle(const RunOptions &options) {
  Model model =
      openModel(options.bundle,
                (options.verify ? KILN_OPEN_VERIFY_WEIGHTS : 0u) |
                    (options.trustWeights ? KILN_OPEN_TRUST_WEIGHTS : 0u));
  Session session = createSession(model, options.threads, options.device);
  std::vector<kiln_tensor_info> inputs = tensorInfos(model, false);
  std::vector<bool> given(inputs.size(), false);

  for (const std::string &spec : options.inputs) {
    // Names may contain '=': take the longest input name followed by '='.
    int match = -1;
    size_t matchLength = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string prefix = std::string(inputs[i].name) + "=";
      if (spec.compare(0, prefix.size(), prefix) == 0 &&
          prefix.size() > matchLength) {
        match = static_cast<int>(i);
        matchLength = prefix.size();
      }
    }
    if (match < 0) {
      if (spec.find('=') == std::string::npos)
        fail("--input '" + spec + "' is not of the form NAME=FILE");
      fail("--input '" + spec + "': the model has no input named '" +
           spec.substr(0, spec.find('=')) +
           "'; its inputs are: " + inputNameList(inputs));
    }
    const kiln_tensor_info &info = inputs[match];
    if (given[match])
      fail(std::string("input '") + info.name + "' is given twice");
    std::string path = spec.substr(matchLength);
    HostTensor tensor = loadInputFile(path);
    bool sameShape =
        tensor.dims.size() == info.rank &&
        std::equal(tensor.dims.begin(), tensor.dims.end(), info.dims);
    // ONNX's own test data stores bfloat16 tensors as uint16 bit patterns.
    if (tensor.dtype == KILN_DTYPE_U16 && info.dtype == KILN_DTYPE_BF16)
      tensor.dtype = KILN_DTYPE_BF16;
    if (tensor.dtype != info.dtype || !sameShape)
      fail(std::string("input '") + info.name + "' expects " + describe(info) +
           ", " + path + " holds " +
           describeTensorType(tensor.dtype, tensor.dims.data(),
                              tensor.dims.size()));
    check(session.setInput(static_cast<uint32_t>(match), tensor.data.data(),
                           tensor.data.size()));
    given[match] = true;
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!given[i])
      std::fprintf(stderr,
                   "kiln: note: input '%s' not given: using random data "
                   "(seed %llu)\n",
                   inputs[i].name,
                   static_cast<unsigned long long>(options.seed));
  fillRandomInputs(session, model, options.seed, given);

  check(session.run());

  std::error_code fileError;
  std::filesystem::create_directories(options.outputDir, fileError);
  if (fileError)
    fail(options.outputDir +
         ": cannot create directory: " + fileError.message());
  std::vector<kiln_tensor_info> outputs = tensorInfos(model, true);
  for (uint32_t i = 0; i < outputs.size(); ++i) {
    const void *data;
    uint64_t size;
    check(session.output(i, data, size));
    std::string path = (std::filesystem::path(options.outputDir) /
                        (fileNameFor(outputs[i].name) + ".npy"))
                           .string();
    std::string error;
    if (!writeWholeFile(path,
                        encodeNpy(outputs[i].dtype, outputs[i].dims,
                                  outputs[i].rank, data, size),
                        error))
      fail(error);
    std::printf("%s: %s -> %s\n", outputs[i].name, describe(outputs[i]).c_str(),
                path.c_str());
  }
}

//===----------------------------------------------------------------------===//
// bench
//===----------------------------------------------------------------------===//

struct BenchOptions {
  std::string bundle;
  uint32_t runs = 100;
  uint32_t warmup = 10;
  uint32_t threads = 0;
  std::string device = "auto";
  bool perfMap = false;
  bool profile = false;
  bool trustWeights = false;
};

/// Operations of all the model's contractions (kiln_model_dispatch_flops).
uint64_t modelFlops(const kiln_model *model) {
  uint64_t flops = 0;
  for (uint32_t d = 0; d < kiln_model_dispatch_count(model); ++d)
    flops += kiln_model_dispatch_flops(model, d);
  return flops;
}

/// The nodes of a profile row: the first few, then how many more.
std::string nodeList(const std::string &nodes) {
  constexpr size_t kShown = 6;
  size_t end = 0;
  for (size_t shown = 0; shown < kShown && end != std::string::npos; ++shown)
    end = nodes.find(", ", end ? end + 2 : 0);
  if (end == std::string::npos)
    return nodes;
  size_t more = 0;
  for (size_t at = end; at != std::string::npos; at = nodes.find(", ", at + 2))
    ++more;
  return nodes.substr(0, end) + ", +" + std::to_string(more) + " more";
}

/// kiln bench --profile: each dispatch's share of a run, its phases
/// ("name #0", "name #1", ...) counted together, slowest first, with the
/// ONNX nodes it covers and the rate of its contractions (as trtexec
/// --dumpProfile and ORT's profiler show per layer and per node).
void printProfile(Model &model, Session &session, uint32_t runs) {
  uint32_t count = kiln_model_dispatch_count(model.get());
  std::vector<uint64_t> nanoseconds(count, 0);
  for (uint32_t i = 0; i < runs; ++i)
    check(session.runProfiled(nanoseconds.data()));
  struct Row {
    std::string name, nodes;
    uint64_t nanoseconds = 0, flops = 0;
  };
  std::vector<Row> rows;
  std::map<std::string, size_t> rowOf;
  uint64_t total = 0, totalFlops = 0;
  for (uint32_t d = 0; d < count; ++d) {
    std::string name = kiln_model_dispatch_name(model.get(), d);
    size_t phase = name.rfind(" #");
    if (phase != std::string::npos &&
        name.find_first_not_of("0123456789", phase + 2) == std::string::npos)
      name.erase(phase);
    auto [it, inserted] = rowOf.try_emplace(name, rows.size());
    if (inserted)
      rows.push_back({name, kiln_model_dispatch_nodes(model.get(), d)});
    uint64_t flops = kiln_model_dispatch_flops(model.get(), d);
    Row &row = rows[it->second];
    row.nanoseconds += nanoseconds[d];
    row.flops += flops;
    total += nanoseconds[d];
    totalFlops += flops;
  }
  // Slowest first; ties keep schedule order (rows are in first-seen order).
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows[a].nanoseconds != rows[b].nanoseconds
               ? rows[a].nanoseconds > rows[b].nanoseconds
               : a < b;
  });
  // Operations per nanosecond are GFLOP/s; `runs` cancels out.
  auto rate = [](uint64_t flops, uint64_t ns) {
    char text[32] = "-";
    if (flops && ns)
      std::snprintf(text, sizeof(text), "%.1f", double(flops) / ns);
    return std::string(text);
  };
  std::printf("profile: %u dispatches in %zu groups, mean of %u runs "
              "(one dispatch timed at a time)\n",
              count, rows.size(), runs);
  std::printf("%10s %7s %7s %8s  %s\n", "ms", "share", "cumul.", "GFLOP/s",
              "dispatch (ONNX nodes)");
  double cumulative = 0;
  for (size_t i : order) {
    const Row &row = rows[i];
    double share = total ? 100.0 * row.nanoseconds / total : 0;
    cumulative += share;
    std::printf("%10.4f %6.1f%% %6.1f%% %8s  %s", row.nanoseconds / 1e6 / runs,
                share, cumulative,
                rate(row.flops * runs, row.nanoseconds).c_str(),
                row.name.c_str());
    if (!row.nodes.empty())
      std::printf("  (%s)", nodeList(row.nodes).c_str());
    std::printf("\n");
  }
  std::printf("%10.4f %6.1f%%         %8s  total\n", total / 1e6 / runs, 100.0,
              rate(totalFlops * runs, total).c_str());
}

void benchBundle(const BenchOptions &options) {
  if (options.runs == 0)
    fail("--runs must be at least 1");
  Model model =
      openModel(options.bundle,
                (options.perfMap ? KILN_OPEN_PERF_MAP : 0u) |
                    (options.trustWeights ? KILN_OPEN_TRUST_WEIGHTS : 0u));
  Session session = createSession(model, options.threads, options.device);
  fillRandomInputs(session, model, 0, {});
  for (uint32_t i = 0; i < options.warmup; ++i)
    check(session.run());
  std::vector<double> milliseconds;
  milliseconds.reserve(options.runs);
  for (uint32_t i = 0; i < options.runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    check(session.run());
    auto end = std::chrono::steady_clock::now();
    milliseconds.push_back(
        std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(milliseconds.begin(), milliseconds.end());
  size_t n = milliseconds.size();
  double mean = 0;
  for (double value : milliseconds)
    mean += value / n;
  double median = n % 2 ? milliseconds[n / 2]
                        : (milliseconds[n / 2 - 1] + milliseconds[n / 2]) / 2;
  // Nearest-rank percentile.
  size_t p90Rank = (n * 90 + 99) / 100;
  double p90 = milliseconds[p90Rank ? p90Rank - 1 : 0];
  std::printf("target: %s\n", model.targetName());
  if (session.device() != KILN_DEVICE_CPU)
    std::printf("device: %s\n", session.deviceDescription());
  std::printf("threads: %u\n", session.threadCount());
  std::printf("runs: %u (warmup %u)\n", options.runs, options.warmup);
  std::printf("min: %.4f ms\n", milliseconds.front());
  std::printf("median: %.4f ms\n", median);
  std::printf("p90: %.4f ms\n", p90);
  std::printf("mean: %.4f ms\n", mean);
  if (options.profile)
    printProfile(model, session, options.runs);
}

//===----------------------------------------------------------------------===//
// inspect
//===----------------------------------------------------------------------===//

struct InspectOptions {
  std::string bundle;
  bool json = false;
  bool verify = false;
  std::string graph;
};

/// kiln_target_name for a raw section field (which may hold a target a newer
/// bundle version added: no kiln_target enumerator may be made from it).
const char *targetNameOf(uint32_t target) {
  return target <= KILN_TARGET_CUDA // the last enumerator
             ? kiln_target_name(static_cast<kiln_target>(target))
             : "unknown";
}

std::string hex32(uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0x%08x", value);
  return buffer;
}

void writeTensorsJson(JsonWriter &json,
                      const std::vector<kiln_tensor_info> &tensors) {
  json.beginArray();
  for (const kiln_tensor_info &info : tensors) {
    json.beginObject();
    json.key("name");
    json.value(info.name);
    json.key("dtype");
    json.value(kiln_dtype_name(info.dtype));
    json.key("shape");
    json.beginArray();
    for (uint32_t d = 0; d < info.rank; ++d)
      json.value(info.dims[d]);
    json.endArray();
    json.key("size_bytes");
    json.value(info.size_bytes);
    json.endObject();
  }
  json.endArray();
}

void inspectBundle(const InspectOptions &options) {
  // No executable is loaded, so bundles for other machines can be inspected.
  uint32_t flags = KILN_OPEN_SKIP_EXECUTABLE |
                   (options.verify ? KILN_OPEN_VERIFY_WEIGHTS : 0u);
  Model model = openModel(options.bundle, flags);
  const kiln_model *handle = model.get();
  uint32_t major, minor;
  kiln_model_version(handle, &major, &minor);
  std::vector<kiln_section_info> sections;
  std::vector<std::string> targets;
  for (uint32_t i = 0; i < kiln_model_section_count(handle); ++i) {
    kiln_section_info info;
    check(kiln_model_section_info(handle, i, &info));
    sections.push_back(info);
    if (info.kind == KILN_SECTION_EXECUTABLE)
      targets.push_back(targetNameOf(info.target));
  }
  std::vector<kiln_tensor_info> inputs = tensorInfos(model, false);
  std::vector<kiln_tensor_info> outputs = tensorInfos(model, true);
  bool gpuCode =
      std::find(targets.begin(), targets.end(), "cuda") != targets.end();
  Placement placement = describePlacement(handle);
  uint64_t totalFlops = modelFlops(handle);
  if (!options.graph.empty()) {
    std::string error;
    if (!writePlacementGraph(handle, kiln_model_name(handle), options.graph,
                             error))
      fail(error);
  }

  if (options.json) {
    JsonWriter json;
    json.beginObject();
    json.key("bundle");
    json.value(options.bundle);
    json.key("version");
    json.value(std::to_string(major) + "." + std::to_string(minor));
    json.key("file_size");
    json.value(kiln_model_file_size(handle));
    json.key("model_name");
    json.value(kiln_model_name(handle));
    json.key("producer");
    json.value(kiln_model_producer(handle));
    json.key("sections");
    json.beginArray();
    for (size_t i = 0; i < sections.size(); ++i) {
      const kiln_section_info &info = sections[i];
      json.beginObject();
      json.key("index");
      json.value(uint64_t(i));
      json.key("kind");
      json.value(kiln_section_kind_name(info.kind));
      json.key("target");
      if (info.kind == KILN_SECTION_EXECUTABLE)
        json.value(targetNameOf(info.target));
      else
        json.null();
      json.key("offset");
      json.value(info.offset);
      json.key("size");
      json.value(info.size);
      json.key("alignment");
      json.value(info.alignment);
      json.key("checksum");
      json.value(hex32(info.checksum));
      json.key("lazy_checksum");
      json.value(bool(info.flags & KILN_SECTION_FLAG_LAZY_CHECKSUM));
      json.key("offset_64_aligned");
      json.value(info.offset % 64 == 0);
      json.key("offset_page_aligned");
      json.value(info.offset % KILN_PAGE_ALIGNMENT == 0);
      if (info.kind == KILN_SECTION_EXECUTABLE &&
          info.target == KILN_TARGET_CUDA) {
        json.key("contents");
        json.value(
            describeCudaImage(kiln_model_section_data(handle, i), info.size));
      }
      json.endObject();
    }
    json.endArray();
    json.key("targets");
    json.beginArray();
    for (const std::string &target : targets)
      json.value(target);
    json.endArray();
    json.key("inputs");
    writeTensorsJson(json, inputs);
    json.key("outputs");
    writeTensorsJson(json, outputs);
    json.key("arena_size");
    json.value(model.arenaSize());
    json.key("dispatch_count");
    json.value(kiln_model_dispatch_count(handle));
    json.key("entry_count");
    json.value(kiln_model_entry_count(handle));
    json.key("flops");
    json.value(totalFlops);
    json.key("partitions");
    json.beginArray();
    for (const Partition &partition : placement.partitions) {
      json.beginObject();
      json.key("device");
      json.value(deviceName(partition.device));
      json.key("first_dispatch");
      json.value(partition.firstDispatch);
      json.key("last_dispatch");
      json.value(partition.lastDispatch);
      json.key("dispatch_count");
      json.value(partition.dispatches);
      json.key("flops");
      json.value(partition.flops);
      json.key("first_node");
      json.value(partition.firstNode);
      json.endObject();
    }
    json.endArray();
    json.key("transfers");
    json.beginObject();
    for (auto [name, totals] : {std::pair{"to_cuda", placement.toCuda},
                                {"to_cpu", placement.toCpu}}) {
      json.key(name);
      json.beginObject();
      json.key("count");
      json.value(totals.count);
      json.key("bytes");
      json.value(totals.bytes);
      json.endObject();
    }
    json.endObject();
    json.key("weights_verified");
    json.value(options.verify);
    json.endObject();
    std::printf("%s\n", json.str().c_str());
    return;
  }

  std::printf("bundle: %s\n", options.bundle.c_str());
  std::printf("format version: %u.%u\n", major, minor);
  std::printf("file size: %llu bytes\n",
              static_cast<unsigned long long>(kiln_model_file_size(handle)));
  std::printf("model: %s\n", kiln_model_name(handle));
  std::printf("producer: %s\n", kiln_model_producer(handle));
  std::printf("sections:\n");
  std::printf("  %-3s %-13s %-26s %12s %12s %6s %-10s %s\n", "#", "kind",
              "target", "offset", "size", "align", "checksum", "notes");
  for (size_t i = 0; i < sections.size(); ++i) {
    const kiln_section_info &info = sections[i];
    std::string notes =
        info.offset % KILN_PAGE_ALIGNMENT == 0
            ? "page-aligned"
            : (info.offset % 64 == 0 ? "64-aligned" : "unaligned");
    if (info.flags & KILN_SECTION_FLAG_LAZY_CHECKSUM)
      notes += options.verify ? ", lazy checksum (verified)"
                              : ", lazy checksum (not verified)";
    if (info.kind == KILN_SECTION_EXECUTABLE && info.target == KILN_TARGET_CUDA)
      notes += "; " +
               describeCudaImage(kiln_model_section_data(handle, i), info.size);
    std::printf("  %-3zu %-13s %-26s %12llu %12llu %6u %-10s %s\n", i,
                kiln_section_kind_name(info.kind),
                info.kind == KILN_SECTION_EXECUTABLE ? targetNameOf(info.target)
                                                     : "-",
                static_cast<unsigned long long>(info.offset),
                static_cast<unsigned long long>(info.size), info.alignment,
                hex32(info.checksum).c_str(), notes.c_str());
  }
  std::string targetList;
  for (const std::string &target : targets)
    targetList += (targetList.empty() ? "" : ", ") + target;
  std::printf("targets: %s\n", targetList.c_str());
  std::printf("inputs:\n");
  for (const kiln_tensor_info &info : inputs)
    std::printf("  %s: %s\n", info.name, describe(info).c_str());
  std::printf("outputs:\n");
  for (const kiln_tensor_info &info : outputs)
    std::printf("  %s: %s\n", info.name, describe(info).c_str());
  std::printf("arena size: %llu bytes\n",
              static_cast<unsigned long long>(model.arenaSize()));
  std::printf("dispatches: %u\n", kiln_model_dispatch_count(handle));
  std::printf("entries: %u\n", kiln_model_entry_count(handle));
  std::printf("contraction work: %.3f GFLOP per run\n", totalFlops / 1e9);
  if (gpuCode) {
    // Where each dispatch runs on a GPU; without one, all run on the CPU.
    std::printf("partitions: %zu (where a GPU runs the bundle)\n",
                placement.partitions.size());
    std::printf("  %-3s %-6s %-11s %10s %7s  %s\n", "#", "device", "dispatches",
                "count", "work", "first node");
    for (size_t i = 0; i < placement.partitions.size(); ++i) {
      const Partition &p = placement.partitions[i];
      std::string range = std::to_string(p.firstDispatch) + "-" +
                          std::to_string(p.lastDispatch);
      std::printf("  %-3zu %-6s %-11s %10u %6.1f%%  %s\n", i,
                  deviceName(p.device).c_str(), range.c_str(), p.dispatches,
                  totalFlops ? 100.0 * p.flops / totalFlops : 0.0,
                  p.firstNode.c_str());
    }
    std::printf("transfers: %u, %llu bytes (to cuda: %u, %llu bytes; to "
                "cpu: %u, %llu bytes)\n",
                placement.toCuda.count + placement.toCpu.count,
                static_cast<unsigned long long>(placement.toCuda.bytes +
                                                placement.toCpu.bytes),
                placement.toCuda.count,
                static_cast<unsigned long long>(placement.toCuda.bytes),
                placement.toCpu.count,
                static_cast<unsigned long long>(placement.toCpu.bytes));
  }
  if (options.verify)
    std::printf("weights checksum: ok\n");
}

} // namespace

void addRuntimeCommands(CLI::App &app, int &exitCode) {
  auto run = std::make_shared<RunOptions>();
  CLI::App *runCommand_ =
      app.add_subcommand("run", "Run a bundle once and write its outputs");
  runCommand_->add_option("bundle", run->bundle, "Bundle file")->required();
  runCommand_
      ->add_option("--input", run->inputs,
                   "NAME=FILE: an input from a .npy or ONNX TensorProto .pb "
                   "file (repeatable; missing inputs get random data)")
      ->allow_extra_args(false);
  runCommand_->add_option("--output-dir", run->outputDir,
                          "Directory for <output>.npy files (default .)");
  runCommand_->add_option("--threads", run->threads,
                          "Worker threads (default: all available)");
  runCommand_->add_option("--device", run->device,
                          "auto (default: the GPU when the bundle has code "
                          "for it and one is usable), cpu or cuda");
  runCommand_->add_option("--seed", run->seed,
                          "Seed for random inputs (default 0)");
  runCommand_->add_flag("--verify", run->verify,
                        "Check the weights' checksum when the bundle is "
                        "opened (else before the first run)");
  runCommand_->add_flag("--trust-weights", run->trustWeights,
                        "Skip the weights' checksum");
  runCommand_->callback(
      [run, &exitCode] { exitCode = runCommand([&] { runBundle(*run); }); });

  auto bench = std::make_shared<BenchOptions>();
  CLI::App *benchCommand =
      app.add_subcommand("bench", "Measure the latency of a bundle");
  benchCommand->add_option("bundle", bench->bundle, "Bundle file")->required();
  benchCommand->add_option("--runs", bench->runs, "Timed runs (default 100)");
  benchCommand->add_option("--warmup", bench->warmup,
                           "Untimed runs first (default 10)");
  benchCommand->add_option("--threads", bench->threads,
                           "Worker threads (default: all available)");
  benchCommand->add_option("--device", bench->device,
                           "auto (default: the GPU when the bundle has code "
                           "for it and one is usable), cpu or cuda");
  benchCommand->add_flag("--profile", bench->profile,
                         "Then time each dispatch over --runs more runs and "
                         "print where the time goes");
  benchCommand->add_flag("--trust-weights", bench->trustWeights,
                         "Skip the weights' checksum (checked once before "
                         "the first run otherwise)");
  benchCommand->add_flag("--perf-map", bench->perfMap,
                         "Write /tmp/perf-<pid>.map so that perf names the "
                         "dispatches and kernels");
  benchCommand->callback([bench, &exitCode] {
    exitCode = runCommand([&] { benchBundle(*bench); });
  });

  auto inspect = std::make_shared<InspectOptions>();
  CLI::App *inspectCommand =
      app.add_subcommand("inspect", "Describe a bundle's sections and tensors");
  inspectCommand->add_option("bundle", inspect->bundle, "Bundle file")
      ->required();
  inspectCommand->add_flag("--json", inspect->json, "Print one JSON object");
  inspectCommand->add_flag("--verify", inspect->verify,
                           "Also check the weights' checksum");
  inspectCommand->add_option(
      "--graph", inspect->graph,
      "Draw the dispatches' data flow coloured by device into FILE.dot, or "
      "FILE.svg (with Graphviz's dot)");
  inspectCommand->callback([inspect, &exitCode] {
    exitCode = runCommand([&] { inspectBundle(*inspect); });
  });
}

int runCommandLine(CLI::App &app, int argc, char **argv, const int &exitCode) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp &help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion &version) {
    return app.exit(version);
  } catch (const CLI::ParseError &error) {
    std::fprintf(stderr, "kiln: error: %s\n", error.what());
    return 1;
  }
  return exitCode;
}

} // namespace kiln::tools
