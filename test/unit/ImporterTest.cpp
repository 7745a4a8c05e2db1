//===- ImporterTest.cpp - ONNX importer pieces
//------------------------------===//
//
// The importer's building blocks on hand-made protobufs: tensor decoding
// (raw and typed fields, external data, bad sizes) and whole-graph import
// with its diagnostics.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"
#include "compiler/import/onnx/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

using kiln::onnx_import::elementTypeFor;
using kiln::onnx_import::tensorToAttr;

class ImporterTest : public ::testing::Test {
protected:
  ImporterTest() {
    context.loadDialect<mlir::kiln::KilnDialect, mlir::func::FuncDialect>();
    context.getDiagEngine().registerHandler([this](mlir::Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return mlir::success();
    });
  }

  std::string writeModel(const onnx::ModelProto &model) {
    // One file per test: ctest runs the tests of this binary in parallel
    // processes, which would otherwise overwrite each other's model.
    const ::testing::TestInfo *test =
        ::testing::UnitTest::GetInstance()->current_test_info();
    std::string path =
        ::testing::TempDir() + "/kiln_importer_" + test->name() + ".onnx";
    std::ofstream out(path, std::ios::binary);
    model.SerializeToOstream(&out);
    return path;
  }

  static onnx::ModelProto unaryModel(const std::string &opType, int64_t opset) {
    onnx::ModelProto model;
    model.set_ir_version(8);
    auto *entry = model.add_opset_import();
    entry->set_version(opset);
    auto *graph = model.mutable_graph();
    graph->set_name("g");
    auto *node = graph->add_node();
    node->set_op_type(opType);
    node->set_name("the_node");
    node->add_input("x");
    node->add_output("y");
    graph->add_input()->set_name("x");
    graph->add_output()->set_name("y");
    for (auto *info : {graph->mutable_input(0), graph->mutable_output(0)}) {
      auto *tensor = info->mutable_type()->mutable_tensor_type();
      tensor->set_elem_type(onnx::TensorProto::FLOAT);
      tensor->mutable_shape()->add_dim()->set_dim_value(4);
    }
    return model;
  }

  mlir::MLIRContext context;
  std::string diagnostics;
};

TEST_F(ImporterTest, DecodesRawAndTypedTensors) {
  onnx::TensorProto raw;
  raw.set_data_type(onnx::TensorProto::FLOAT);
  raw.add_dims(2);
  float values[2] = {1.5f, -2.0f};
  raw.set_raw_data(std::string(reinterpret_cast<char *>(values), 8));
  std::string error;
  auto attr = tensorToAttr(context, raw, "", error);
  ASSERT_TRUE(attr) << error;
  EXPECT_EQ(attr.getValues<float>()[1], -2.0f);

  onnx::TensorProto typed;
  typed.set_data_type(onnx::TensorProto::INT64);
  typed.add_dims(3);
  for (int64_t v : {7, -1, 3})
    typed.add_int64_data(v);
  attr = tensorToAttr(context, typed, "", error);
  ASSERT_TRUE(attr) << error;
  EXPECT_EQ(attr.getValues<int64_t>()[1], -1);
}

TEST_F(ImporterTest, RejectsWrongSizesAndEscapingExternalData) {
  onnx::TensorProto short_;
  short_.set_data_type(onnx::TensorProto::FLOAT);
  short_.add_dims(4);
  short_.set_raw_data(std::string(8, '\0'));
  std::string error;
  EXPECT_FALSE(tensorToAttr(context, short_, "", error));
  EXPECT_NE(error.find("holds 8 bytes, expected 16"), std::string::npos)
      << error;

  onnx::TensorProto external;
  external.set_data_type(onnx::TensorProto::FLOAT);
  external.add_dims(1);
  external.set_data_location(onnx::TensorProto::EXTERNAL);
  auto *location = external.add_external_data();
  location->set_key("location");
  location->set_value("../../etc/passwd");
  EXPECT_FALSE(tensorToAttr(context, external, "/tmp", error));
  EXPECT_NE(error.find("relative path inside the model's directory"),
            std::string::npos)
      << error;
}

TEST_F(ImporterTest, MapsElementTypes) {
  EXPECT_TRUE(elementTypeFor(context, onnx::TensorProto::FLOAT).isF32());
  EXPECT_TRUE(elementTypeFor(context, onnx::TensorProto::BOOL).isInteger(1));
  EXPECT_TRUE(
      elementTypeFor(context, onnx::TensorProto::UINT8).isUnsignedInteger(8));
  EXPECT_FALSE(elementTypeFor(context, onnx::TensorProto::STRING));
}

TEST_F(ImporterTest, ImportsAGraph) {
  auto module =
      kiln::importOnnxModel(context, writeModel(unaryModel("Relu", 13)), {});
  ASSERT_TRUE(module) << diagnostics;
  auto main = module->lookupSymbol<mlir::func::FuncOp>("main");
  ASSERT_TRUE(main);
  EXPECT_EQ(main.getNumArguments(), 1u);
  int relus = 0;
  main.walk([&](mlir::kiln::ReluOp) { ++relus; });
  EXPECT_EQ(relus, 1);
}

TEST_F(ImporterTest, NamesTheNodeOfAnUnsupportedOp) {
  auto module = kiln::importOnnxModel(
      context, writeModel(unaryModel("NoSuchOp", 13)), {});
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("unsupported op 'NoSuchOp' (opset 13)"),
            std::string::npos)
      << diagnostics;
}

TEST_F(ImporterTest, RefusesOpsetsItDoesNotKnow) {
  auto module =
      kiln::importOnnxModel(context, writeModel(unaryModel("Relu", 18)), {});
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("ONNX opset 18 is not supported"),
            std::string::npos)
      << diagnostics;
}

} // namespace
