//===- JsonWriter.h - Minimal JSON emitter ----------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_TOOLS_JSONWRITER_H
#define KILN_RUNTIME_TOOLS_JSONWRITER_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::tools {

/// Builds one JSON document; commas and nesting are tracked, strings are
/// escaped (invalid UTF-8 becomes U+FFFD). Output is compact.
class JsonWriter {
public:
  void beginObject();
  void endObject();
  void beginArray();
  void endArray();
  /// Inside an object: the next value's key.
  void key(const std::string &name);
  void value(const std::string &text);
  void value(const char *text) { value(std::string(text)); }
  void value(uint64_t number);
  void value(int64_t number);
  void value(uint32_t number) { value(uint64_t(number)); }
  void value(int number) { value(int64_t(number)); }
  void value(double number);
  void value(bool flag);
  void null();

  const std::string &str() const { return out; }

  static std::string escape(const std::string &text);

private:
  void beforeValue();
  std::string out;
  // One entry per open container: whether it already has an element.
  std::vector<bool> hasElement;
  bool afterKey = false;
};

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_JSONWRITER_H
