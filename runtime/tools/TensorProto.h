//===- TensorProto.h - ONNX TensorProto files (.pb) -------------*- C++ -*-===//
//
// Decodes the protobuf wire format directly (no protobuf library, so the tool
// builds runtime-only and for ARM boards): dims, data_type, name, raw_data and
// the typed float/int32/int64/double/uint64 fields. Segmented tensors,
// external data and string tensors are rejected with a message.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TOOLS_TENSORPROTO_H
#define KILN_RUNTIME_TOOLS_TENSORPROTO_H

#include "HostTensor.h"

namespace kiln::tools {

bool parseTensorProto(const uint8_t *bytes, size_t size, HostTensor &tensor,
                      std::string &name, std::string &error);
bool readTensorProto(const std::string &path, HostTensor &tensor,
                     std::string &error);

/// Encodes with dims, data_type, name and raw_data, as onnx's
/// numpy_helper.from_array does.
std::vector<uint8_t> encodeTensorProto(const std::string &name,
                                       const HostTensor &tensor);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_TENSORPROTO_H
