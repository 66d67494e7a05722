#include "agent/spool/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace vigil::spool {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78; // Castagnoli, reflected

constexpr std::array<uint32_t, 256> makeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    }
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = makeTable();

} // namespace

uint32_t crc32cSoftware(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) {
    crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32cHardware(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  uint32_t c32 = uint32_t(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --size;
  }
  return ~c32;
}

bool crc32cHardwareAvailable() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#else
uint32_t crc32cHardware(uint32_t crc, const void* data, size_t size) { return crc32cSoftware(crc, data, size); }
bool crc32cHardwareAvailable() { return false; }
#endif

uint32_t crc32c(uint32_t crc, const void* data, size_t size) {
  return crc32cHardwareAvailable() ? crc32cHardware(crc, data, size) : crc32cSoftware(crc, data, size);
}

} // namespace vigil::spool
