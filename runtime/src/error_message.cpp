//===- error_message.cpp - Fixed-size error text builder ------------------===//

#include "error_message.h"

namespace kiln::runtime {

ErrorMessage &ErrorMessage::operator<<(const char *string) {
  if (!string)
    string = "(null)";
  while (*string && length + 1 < kCapacity)
    text[length++] = *string++;
  text[length] = '\0';
  return *this;
}

ErrorMessage &ErrorMessage::operator<<(char character) {
  char pair[2] = {character, '\0'};
  return *this << pair;
}

ErrorMessage &ErrorMessage::operator<<(unsigned long long value) {
  char digits[24];
  size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  char reversed[24];
  for (size_t i = 0; i < count; ++i)
    reversed[i] = digits[count - 1 - i];
  reversed[count] = '\0';
  return *this << reversed;
}

ErrorMessage &ErrorMessage::operator<<(long long value) {
  if (value < 0) {
    *this << '-';
    // Negate in unsigned arithmetic so that LLONG_MIN does not overflow.
    return *this << (0ull - static_cast<unsigned long long>(value));
  }
  return *this << static_cast<unsigned long long>(value);
}

ErrorMessage &ErrorMessage::appendHex32(uint32_t value) {
  static const char kHexDigits[] = "0123456789abcdef";
  char hex[11] = {'0', 'x'};
  for (int i = 0; i < 8; ++i)
    hex[2 + i] = kHexDigits[(value >> (28 - 4 * i)) & 0xF];
  hex[10] = '\0';
  return *this << hex;
}

} // namespace kiln::runtime
