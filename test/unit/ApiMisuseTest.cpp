//===- ApiMisuseTest.cpp - The C API refuses bad arguments ----------------===//

#include "TestSupport.h"

#include <gtest/gtest.h>

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
  EXPECT_STREQ(kiln_target_name(KILN_TARGET_AARCH64_NEON_DOTPROD_FP16),
               "aarch64-neon-dotprod-fp16");
  EXPECT_STREQ(kiln_dtype_name(KILN_DTYPE_BF16), "bf16");
  EXPECT_STREQ(kiln_dtype_name(static_cast<kiln_dtype>(8)), "invalid");
  EXPECT_EQ(kiln_dtype_size(KILN_DTYPE_F64), 8u);
  EXPECT_EQ(kiln_dtype_size(KILN_DTYPE_BOOL), 1u);
  EXPECT_EQ(kiln_dtype_size(static_cast<kiln_dtype>(8)), 0u);
}

} // namespace
