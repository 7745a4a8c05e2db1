//===- error_message.h - Fixed-size error text builder ----------*- C++ -*-===//
//
// Part of the freestanding core: builds error messages into a fixed buffer
// with no heap and no printf, so verification can report precise messages on
// firmware too. Text that does not fit is cut off, never overflowed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ERROR_MESSAGE_H
#define KILN_RUNTIME_ERROR_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

namespace kiln::runtime {

class ErrorMessage {
public:
  static constexpr size_t kCapacity = 512;

  void clear() {
    length = 0;
    text[0] = '\0';
  }
  const char *c_str() const { return text; }
  size_t size() const { return length; }

  ErrorMessage &operator<<(const char *string);
  ErrorMessage &operator<<(char character);
  ErrorMessage &operator<<(unsigned long long value);
  ErrorMessage &operator<<(long long value);
  ErrorMessage &operator<<(unsigned long value) {
    return *this << static_cast<unsigned long long>(value);
  }
  ErrorMessage &operator<<(unsigned int value) {
    return *this << static_cast<unsigned long long>(value);
  }
  ErrorMessage &operator<<(unsigned short value) {
    return *this << static_cast<unsigned long long>(value);
  }
  ErrorMessage &operator<<(long value) {
    return *this << static_cast<long long>(value);
  }
  ErrorMessage &operator<<(int value) {
    return *this << static_cast<long long>(value);
  }
  /// Appends `value` as 0x%08x, the way checksums are shown.
  ErrorMessage &appendHex32(uint32_t value);

private:
  char text[kCapacity] = {};
  size_t length = 0;
};

} // namespace kiln::runtime

#endif // KILN_RUNTIME_ERROR_MESSAGE_H
