#pragma once

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the
// spool's segment headers, record frames and ack file. crc32c("123456789")
// is 0xE3069283. Uses the SSE4.2 crc32 instruction when the CPU has it, a
// byte table otherwise; both give the same values.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vigil::spool {

// Extends `crc` (the value returned for the bytes before) over `data`; start
// with 0.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(std::string_view data) { return crc32c(0, data.data(), data.size()); }

// The two implementations, for the tests. crc32cHardware() must only be
// called when crc32cHardwareAvailable().
uint32_t crc32cSoftware(uint32_t crc, const void* data, size_t size);
uint32_t crc32cHardware(uint32_t crc, const void* data, size_t size);
bool crc32cHardwareAvailable();

} // namespace vigil::spool
