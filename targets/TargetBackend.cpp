//===- TargetBackend.cpp - the targets `--target` names -------------------===//

#include "targets/TargetBackend.h"
#include "targets/cpu/CodeGen.h"
#include "targets/cuda/CodeGen.h"

namespace mlir::kiln {

std::unique_ptr<TargetBackend> createTarget(llvm::StringRef name,
                                            std::string &error) {
  if (const cpu::CpuTarget *target = cpu::findCpuTarget(name))
    return cpu::createCpuBackend(*target);
  if (auto sms = cuda::parseCudaTarget(name, error))
    return cuda::createCudaBackend(std::move(*sms));
  return nullptr;
}

std::vector<std::string> targetNames() {
  std::vector<std::string> names;
  for (const cpu::CpuTarget &target : cpu::cpuTargets())
    names.push_back(target.name.str());
  names.push_back("cuda");
  return names;
}

std::vector<std::unique_ptr<TargetBackend>>
parseTargets(llvm::ArrayRef<std::string> names, std::string &error) {
  // "cuda:sm_75,sm_80" arrives split at its commas: its sm items rejoin it.
  std::vector<std::string> items;
  for (const std::string &name : names) {
    llvm::StringRef item = llvm::StringRef(name).trim();
    if (item.empty())
      continue;
    if (item.starts_with("sm_") && !items.empty() &&
        llvm::StringRef(items.back()).starts_with("cuda:"))
      items.back() += "," + item.str();
    else
      items.push_back(item.str());
  }
  std::vector<std::unique_ptr<TargetBackend>> targets;
  for (const std::string &item : items) {
    std::unique_ptr<TargetBackend> target = createTarget(item, error);
    if (!error.empty())
      return {};
    if (!target) {
      std::string known;
      for (const std::string &t : targetNames())
        known += (known.empty() ? "" : ", ") + t;
      error = "unknown target '" + item + "' (known: " + known + ")";
      return {};
    }
    for (const auto &other : targets)
      if (other->id() == target->id()) {
        error = "target '" + item + "' is named twice";
        return {};
      }
    targets.push_back(std::move(target));
  }
  return targets;
}

} // namespace mlir::kiln
