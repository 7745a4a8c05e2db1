//===- CliTest.cpp - kiln-run run / bench / inspect -----------------------===//

#include "NpyFile.h"
#include "TensorProto.h"
#include "TestSupport.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

using namespace kiln::test;

namespace {

struct CliResult {
  int exitCode;
  std::string out, err;
};

std::string readText(const std::string &path) {
  std::vector<uint8_t> bytes = readFileBytes(path);
  return std::string(bytes.begin(), bytes.end());
}

class Cli : public ::testing::Test {
protected:
  void SetUp() override {
    bundlePath = dir.file("model.kiln");
    writeFileBytes(bundlePath, buildAddBundle(6, 2));
  }

  CliResult run(const std::string &arguments) {
    std::string command = std::string(KILN_RUN_PATH) + " " + arguments + " >" +
                          dir.file("stdout") + " 2>" + dir.file("stderr");
    int status = std::system(command.c_str());
    CliResult result{WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     readText(dir.file("stdout")),
                     readText(dir.file("stderr"))};
    unlink(dir.file("stdout").c_str());
    unlink(dir.file("stderr").c_str());
    return result;
  }

  std::string writeNpy(const std::string &name, const std::vector<float> &data,
                       std::vector<int64_t> dims) {
    std::string path = dir.file(name);
    writeFileBytes(path, kiln::tools::encodeNpy(KILN_DTYPE_F32, dims.data(),
                                                dims.size(), data.data(),
                                                data.size() * 4));
    return path;
  }

  TempDir dir;
  std::string bundlePath;
};

TEST_F(Cli, RunWritesOutputs) {
  std::string a = writeNpy("a.npy", {1, 2, 3, 4, 5, 6}, {6});
  kiln::tools::HostTensor b;
  b.dtype = KILN_DTYPE_F32;
  b.dims = {6};
  std::vector<float> bValues = {10, 20, 30, 40, 50, 60};
  b.data.assign(reinterpret_cast<uint8_t *>(bValues.data()),
                reinterpret_cast<uint8_t *>(bValues.data()) + 24);
  writeFileBytes(dir.file("b.pb"), kiln::tools::encodeTensorProto("b", b));
  std::string outputs = dir.file("out/nested");
  CliResult result = run("run " + bundlePath + " --input a=" + a +
                         " --input b=" + dir.file("b.pb") + " --output-dir " +
                         outputs + " --threads 2 --verify");
  ASSERT_EQ(result.exitCode, 0) << result.err;
  kiln::tools::HostTensor y;
  std::string error;
  ASSERT_TRUE(kiln::tools::readNpy(outputs + "/y.npy", y, error)) << error;
  std::vector<float> values(6);
  std::memcpy(values.data(), y.data.data(), 24);
  // y = (a + b) * scale, scale[i] = 0.5 + i % 5.
  EXPECT_EQ(values, (std::vector<float>{5.5f, 33, 82.5f, 154, 247.5f, 33}));
  unlink((outputs + "/y.npy").c_str());
  rmdir(outputs.c_str());
  rmdir(dir.file("out").c_str());
}

TEST_F(Cli, RunFillsMissingInputsWithSeededRandomData) {
  CliResult first =
      run("run " + bundlePath + " --output-dir " + dir.path() + " --seed 7");
  ASSERT_EQ(first.exitCode, 0) << first.err;
  EXPECT_NE(first.err.find("input 'a' not given: using random data (seed 7)"),
            std::string::npos)
      << first.err;
  std::vector<uint8_t> y1 = readFileBytes(dir.file("y.npy"));
  ASSERT_EQ(
      run("run " + bundlePath + " --output-dir " + dir.path() + " --seed 7")
          .exitCode,
      0);
  EXPECT_EQ(readFileBytes(dir.file("y.npy")), y1);
  ASSERT_EQ(
      run("run " + bundlePath + " --output-dir " + dir.path() + " --seed 8")
          .exitCode,
      0);
  EXPECT_NE(readFileBytes(dir.file("y.npy")), y1);
}

TEST_F(Cli, RunReportsInputMismatches) {
  std::string wrongShape = writeNpy("wrong.npy", {1, 2, 3}, {3});
  CliResult result = run("run " + bundlePath + " --input a=" + wrongShape);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.err.find("kiln: error: input 'a' expects f32[6], " +
                            wrongShape + " holds f32[3]"),
            std::string::npos)
      << result.err;

  result = run("run " + bundlePath + " --input c=" + wrongShape);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.err.find("no input named 'c'; its inputs are: a (f32[6]), "
                            "b (f32[6])"),
            std::string::npos)
      << result.err;

  result = run("run " + bundlePath + " --input " + wrongShape);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.err.find("NAME=FILE"), std::string::npos) << result.err;

  result = run("run " + bundlePath + " --input a=" + dir.file("missing.npy"));
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.err.find("cannot open"), std::string::npos) << result.err;
}

TEST_F(Cli, BadBundlesGiveErrorsNotCrashes) {
  std::vector<uint8_t> bytes = readFileBytes(bundlePath);
  std::string truncated = dir.file("truncated.kiln");
  writeFileBytes(truncated,
                 std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100));
  std::string corrupted = dir.file("corrupted.kiln");
  bytes[BundleLayout(bytes).sectionOffset(KILN_SECTION_MANIFEST) + 10] ^= 0xFF;
  writeFileBytes(corrupted, bytes);
  for (const std::string &path : {truncated, corrupted}) {
    for (const char *command : {"run", "bench", "inspect", "inspect --json"}) {
      CliResult result = run(std::string(command) + " " + path);
      EXPECT_EQ(result.exitCode, 1) << command << " " << path;
      EXPECT_EQ(result.err.rfind("kiln: error: " + path + ": ", 0), 0u)
          << result.err;
    }
  }
  CliResult usage = run("inspect");
  EXPECT_EQ(usage.exitCode, 1);
  EXPECT_EQ(usage.err.rfind("kiln: error: ", 0), 0u) << usage.err;
}

TEST_F(Cli, InspectDescribesTheBundle) {
  // The version this build writes, so that a format bump needs no edit here.
  const std::string version = std::to_string(KILN_BUNDLE_VERSION_MAJOR) + "." +
                              std::to_string(KILN_BUNDLE_VERSION_MINOR);
  const std::string textVersion = "format version: " + version;
  const std::string jsonVersion = "\"version\":\"" + version + "\"";
  CliResult text = run("inspect " + bundlePath + " --verify");
  ASSERT_EQ(text.exitCode, 0) << text.err;
  for (const char *expected :
       {textVersion.c_str(), "MANIFEST", "WEIGHTS", "page-aligned",
        "lazy checksum (verified)", "a: f32[6]", "y: f32[6]", "dispatches: 2",
        "entries: 2", "DISPATCH_INFO", "weights checksum: ok"})
    EXPECT_NE(text.out.find(expected), std::string::npos) << expected << "\n"
                                                          << text.out;

  CliResult json = run("inspect --json " + bundlePath);
  ASSERT_EQ(json.exitCode, 0) << json.err;
  for (const char *expected :
       {jsonVersion.c_str(), "\"kind\":\"EXECUTABLE\"",
        "\"kind\":\"DISPATCH_INFO\"", "\"flops\":6",
        "\"offset_page_aligned\":true",
        "\"inputs\":[{\"name\":\"a\","
        "\"dtype\":\"f32\",\"shape\":[6],"
        "\"size_bytes\":24}",
        "\"dispatch_count\":2", "\"weights_verified\":false"})
    EXPECT_NE(json.out.find(expected), std::string::npos) << expected << "\n"
                                                          << json.out;
  EXPECT_EQ(json.out.front(), '{');
  EXPECT_EQ(json.out.substr(json.out.size() - 2), "}\n");
}

TEST_F(Cli, BenchPrintsStatistics) {
  CliResult result = run("bench " + bundlePath +
                         " --runs 5 --warmup 1 "
                         "--threads 1");
  ASSERT_EQ(result.exitCode, 0) << result.err;
  for (const char *expected :
       {"target: ", "threads: 1", "min: ", "median: ", "p90: ", "mean: "})
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n"
                                                            << result.out;
}

// The profile lists each dispatch with its nodes and work: "add" covers
// Add_0 and does 6 operations, "scale" says neither (no rate: "-").
TEST_F(Cli, BenchProfileNamesNodesAndRates) {
  CliResult result =
      run("bench " + bundlePath + " --runs 3 --warmup 0 --threads 1 --profile");
  ASSERT_EQ(result.exitCode, 0) << result.err;
  for (const char *expected :
       {"profile: 2 dispatches in 2 groups", "GFLOP/s", "dispatch (ONNX nodes)",
        "  add  (Add_0)\n", "        -  scale\n", "total\n"})
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n"
                                                            << result.out;
}

} // namespace
