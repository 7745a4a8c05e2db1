//===- ApiMisuseTest.cpp - The C API refuses bad arguments ----------------===//

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace kiln::test;

namespace {

class ApiMisuse : public ::testing::Test {
protected:
  void SetUp() override {
    bytes = std::make_unique<AlignedBytes>(buildAddBundle());
    ASSERT_EQ(kiln_model_open_memory(bytes->data(), bytes->size(), 0, &model),
              KILN_OK);
    ASSERT_EQ(kiln_session_create(model, nullptr, &session), KILN_OK);
  }
  void TearDown() override {
    kiln_session_destroy(session);
    kiln_model_close(model);
  }
  void expectInvalid(kiln_status status, const char *mentions) {
    EXPECT_EQ(status, KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(kiln_last_error()).find(mentions), std::string::npos)
        << kiln_last_error();
  }
  std::unique_ptr<AlignedBytes> bytes;
  kiln_model *model = nullptr;
  kiln_session *session = nullptr;
};

TEST_F(ApiMisuse, NullArgumentsToOpen) {
  kiln_model *out = reinterpret_cast<kiln_model *>(0x1);
  expectInvalid(kiln_model_open_file(nullptr, 0, &out), "kiln_model_open_file");
  EXPECT_EQ(out, nullptr);
  expectInvalid(kiln_model_open_file("x", 0, nullptr), "must not be null");
  expectInvalid(kiln_model_open_memory(nullptr, 10, 0, &out),
                "kiln_model_open_memory");
  expectInvalid(
      kiln_model_open_memory(bytes->data(), bytes->size(), 0, nullptr),
      "must not be null");
  expectInvalid(
      kiln_model_open_memory(bytes->data(), bytes->size(), 0x100, &out),
      "unknown flags");
}

TEST_F(ApiMisuse, MisalignedMemory) {
  std::vector<uint8_t> copy(bytes->size() + 1);
  std::memcpy(copy.data() + 1, bytes->data(), bytes->size());
  kiln_model *out = nullptr;
  expectInvalid(kiln_model_open_memory(copy.data() + 1, bytes->size(), 0, &out),
                "aligned to 64");
}

TEST_F(ApiMisuse, MissingAndNonRegularFiles) {
  kiln_model *out = nullptr;
  EXPECT_EQ(kiln_model_open_file("/nonexistent/model.kiln", 0, &out),
            KILN_ERROR_IO);
  EXPECT_NE(std::string(kiln_last_error()).find("/nonexistent/model.kiln"),
            std::string::npos);
  EXPECT_EQ(kiln_model_open_file("/tmp", 0, &out), KILN_ERROR_IO);
  EXPECT_NE(std::string(kiln_last_error()).find("not a regular file"),
            std::string::npos);
}

TEST_F(ApiMisuse, BadIndices) {
  kiln_tensor_info info;
  expectInvalid(kiln_model_input_info(model, 2, &info), "input index 2");
  expectInvalid(kiln_model_output_info(model, 1, &info), "output index 1");
  expectInvalid(kiln_model_input_info(model, 0, nullptr), "must not be null");
  expectInvalid(kiln_model_input_info(nullptr, 0, &info), "must not be null");
  kiln_section_info section;
  expectInvalid(kiln_model_section_info(model, 99, &section), "section index");
  float value = 0;
  expectInvalid(kiln_session_set_input(session, 5, &value, 4), "input index 5");
  EXPECT_EQ(kiln_session_input_data(session, 5), nullptr);
  const void *data;
  uint64_t size;
  expectInvalid(kiln_session_output(session, 1, &data, &size),
                "output index 1");
  expectInvalid(kiln_session_output(session, 0, nullptr, &size),
                "must not be null");
  uint32_t dispatches = kiln_model_dispatch_count(model);
  ASSERT_GT(dispatches, 0u);
  EXPECT_NE(kiln_model_dispatch_name(model, 0), nullptr);
  EXPECT_EQ(kiln_model_dispatch_name(model, dispatches), nullptr);
  EXPECT_EQ(kiln_model_dispatch_name(nullptr, 0), nullptr);
}

TEST_F(ApiMisuse, WrongInputSize) {
  std::vector<float> values(999);
  expectInvalid(kiln_session_set_input(session, 0, values.data(), 999 * 4),
                "input 0 'a' is 4000 bytes, got 3996");
  expectInvalid(kiln_session_set_input(session, 0, nullptr, 4000),
                "data must not be null");
}

TEST_F(ApiMisuse, NullModelAndSessionAccessors) {
  EXPECT_EQ(kiln_model_input_count(nullptr), 0u);
  EXPECT_EQ(kiln_model_output_count(nullptr), 0u);
  EXPECT_EQ(kiln_model_arena_size(nullptr), 0u);
  EXPECT_STREQ(kiln_model_target_name(nullptr), "none");
  EXPECT_EQ(kiln_session_input_data(nullptr, 0), nullptr);
  EXPECT_EQ(kiln_session_thread_count(nullptr), 0u);
  expectInvalid(kiln_session_run(nullptr), "kiln_session_run");
  uint64_t nanoseconds[4] = {};
  expectInvalid(kiln_session_run_profiled(nullptr, nanoseconds),
                "kiln_session_run_profiled");
  expectInvalid(kiln_session_run_profiled(session, nullptr),
                "dispatch_nanoseconds must not be null");
  kiln_session *out = nullptr;
  expectInvalid(kiln_session_create(nullptr, nullptr, &out),
                "kiln_session_create");
  kiln_session_destroy(nullptr);
  kiln_model_close(nullptr);
}

TEST_F(ApiMisuse, SessionOptions) {
  kiln_session *out = nullptr;
  kiln_session_options tooSmall = {2, 1};
  expectInvalid(kiln_session_create(model, &tooSmall, &out), "struct_size");
  kiln_session_options tooMany = {sizeof(kiln_session_options), 1u << 20};
  expectInvalid(kiln_session_create(model, &tooMany, &out), "thread_count");
  // An older caller's struct without thread_count means "default".
  kiln_session_options older = {4, 12345};
  ASSERT_EQ(kiln_session_create(model, &older, &out), KILN_OK);
  EXPECT_GE(kiln_session_thread_count(out), 1u);
  kiln_session_destroy(out);
}

// A profiled run computes what a plain run does and adds each dispatch's
// time to the caller's array.
TEST_F(ApiMisuse, ProfiledRunMatchesRun) {
  std::vector<float> a(1000);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = float(i) * 0.5f;
  for (uint32_t i = 0; i < kiln_model_input_count(model); ++i)
    ASSERT_EQ(kiln_session_set_input(session, i, a.data(), a.size() * 4),
              KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  const void *data;
  uint64_t size;
  ASSERT_EQ(kiln_session_output(session, 0, &data, &size), KILN_OK);
  std::vector<char> plain(static_cast<const char *>(data),
                          static_cast<const char *>(data) + size);
  std::memset(const_cast<void *>(data), 0, size);
  std::vector<uint64_t> nanoseconds(kiln_model_dispatch_count(model), 7);
  ASSERT_EQ(kiln_session_run_profiled(session, nanoseconds.data()), KILN_OK);
  ASSERT_EQ(kiln_session_output(session, 0, &data, &size), KILN_OK);
  EXPECT_EQ(std::memcmp(plain.data(), data, size), 0);
  for (uint64_t ns : nanoseconds)
    EXPECT_GT(ns, 7u) << "each dispatch's time is added to what was there";
}

// KILN_OPEN_PERF_MAP appends the loaded code's functions to perf's map for
// this process: "START SIZE kiln:NAME" in hex (the test kernel's functions
// are add and scale; a compiled bundle's entries are kiln_entry_<i>,
// followed by their dispatch's name).
TEST_F(ApiMisuse, PerfMap) {
  std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  std::remove(path.c_str());
  kiln_model *mapped = nullptr;
  ASSERT_EQ(kiln_model_open_memory(bytes->data(), bytes->size(),
                                   KILN_OPEN_PERF_MAP, &mapped),
            KILN_OK)
      << kiln_last_error();
  kiln_model_close(mapped);
  std::ifstream map(path);
  std::string line;
  bool sawAdd = false;
  int lines = 0;
  while (std::getline(map, line)) {
    unsigned long start = 0, size = 0;
    char name[64] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "%lx %lx %63s", &start, &size, name), 3)
        << line;
    EXPECT_NE(start, 0u);
    EXPECT_GT(size, 0u);
    EXPECT_EQ(std::string(name).rfind("kiln:", 0), 0u) << line;
    sawAdd |= std::string(name) == "kiln:add";
    ++lines;
  }
  std::remove(path.c_str());
  EXPECT_GT(lines, 0);
  EXPECT_TRUE(sawAdd);
}

TEST_F(ApiMisuse, SessionOfModelWithoutExecutable) {
  kiln_model *described = nullptr;
  ASSERT_EQ(kiln_model_open_memory(bytes->data(), bytes->size(),
                                   KILN_OPEN_SKIP_EXECUTABLE, &described),
            KILN_OK);
  EXPECT_STREQ(kiln_model_target_name(described), "none");
  kiln_session *out = nullptr;
  expectInvalid(kiln_session_create(described, nullptr, &out),
                "KILN_OPEN_SKIP_EXECUTABLE");
  kiln_model_close(described);
}

TEST(Names, StatusTargetAndDtypeNames) {
  EXPECT_STREQ(kiln_status_string(KILN_OK), "ok");
  EXPECT_STREQ(kiln_status_string(KILN_ERROR_INVALID_BUNDLE), "invalid bundle");
  // Values without an enumerator, but within each C++ enum's range.
  EXPECT_STREQ(kiln_status_string(static_cast<kiln_status>(7)),
               "unknown status");
  EXPECT_STREQ(kiln_target_name(KILN_TARGET_X86_64_AVX2), "x86_64-avx2");
  EXPECT_STREQ(kiln_target_name(KILN_TARGET_X86_64_AVX512), "x86_64-avx512");
  EXPECT_STREQ(kiln_target_name(KILN_TARGET_X86_64_AVX512_VNNI),
               "x86_64-avx512-vnni");
  EXPECT_STREQ(kiln_target_name(KILN_TARGET_AARCH64_NEON_DOTPROD_FP16),
               "aarch64-neon-dotprod-fp16");
  EXPECT_STREQ(kiln_dtype_name(KILN_DTYPE_BF16), "bf16");
  EXPECT_STREQ(kiln_dtype_name(static_cast<kiln_dtype>(8)), "invalid");
  EXPECT_EQ(kiln_dtype_size(KILN_DTYPE_F64), 8u);
  EXPECT_EQ(kiln_dtype_size(KILN_DTYPE_BOOL), 1u);
  EXPECT_EQ(kiln_dtype_size(static_cast<kiln_dtype>(8)), 0u);
}

} // namespace
