//===- JsonWriter.cpp - Minimal JSON emitter ------------------------------===//

#include "JsonWriter.h"

#include <cmath>
#include <cstdio>

namespace kiln::tools {

void JsonWriter::beforeValue() {
  if (afterKey) {
    afterKey = false;
    return;
  }
  if (!hasElement.empty()) {
    if (hasElement.back())
      out += ',';
    hasElement.back() = true;
  }
}

void JsonWriter::beginObject() {
  beforeValue();
  out += '{';
  hasElement.push_back(false);
}

void JsonWriter::endObject() {
  out += '}';
  hasElement.pop_back();
}

void JsonWriter::beginArray() {
  beforeValue();
  out += '[';
  hasElement.push_back(false);
}

void JsonWriter::endArray() {
  out += ']';
  hasElement.pop_back();
}

void JsonWriter::key(const std::string &name) {
  beforeValue();
  out += escape(name);
  out += ':';
  afterKey = true;
}

void JsonWriter::value(const std::string &text) {
  beforeValue();
  out += escape(text);
}

void JsonWriter::value(uint64_t number) {
  beforeValue();
  out += std::to_string(number);
}

void JsonWriter::value(int64_t number) {
  beforeValue();
  out += std::to_string(number);
}

void JsonWriter::value(double number) {
  beforeValue();
  if (!std::isfinite(number)) { // JSON has no NaN or infinity
    out += "null";
    return;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", number);
  out += buffer;
}

void JsonWriter::value(bool flag) {
  beforeValue();
  out += flag ? "true" : "false";
}

void JsonWriter::null() {
  beforeValue();
  out += "null";
}

namespace {

/// Length of the valid UTF-8 sequence at text[i], or 0 if invalid.
size_t utf8SequenceLength(const std::string &text, size_t i) {
  auto byte = [&](size_t at) { return static_cast<uint8_t>(text[at]); };
  uint8_t lead = byte(i);
  size_t length;
  uint32_t codePoint;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    codePoint = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    codePoint = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    codePoint = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size())
    return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80)
      return 0;
    codePoint = codePoint << 6 | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((length == 3 && codePoint < 0x800) ||
      (length == 4 && (codePoint < 0x10000 || codePoint > 0x10FFFF)) ||
      (codePoint >= 0xD800 && codePoint <= 0xDFFF))
    return 0;
  return length;
}

} // namespace

std::string JsonWriter::escape(const std::string &text) {
  std::string escaped = "\"";
  for (size_t i = 0; i < text.size();) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      size_t length = utf8SequenceLength(text, i);
      if (length == 0) {
        escaped += "\\ufffd";
        ++i;
      } else {
        escaped.append(text, i, length);
        i += length;
      }
      continue;
    }
    ++i;
    switch (c) {
    case '"':
      escaped += "\\\"";
      break;
    case '\\':
      escaped += "\\\\";
      break;
    case '\b':
      escaped += "\\b";
      break;
    case '\f':
      escaped += "\\f";
      break;
    case '\n':
      escaped += "\\n";
      break;
    case '\r':
      escaped += "\\r";
      break;
    case '\t':
      escaped += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
        escaped += buffer;
      } else {
        escaped += static_cast<char>(c);
      }
    }
  }
  escaped += '"';
  return escaped;
}

} // namespace kiln::tools
