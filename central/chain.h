#pragma once

// The hash chain of an agent instance's records (proto/vigil/v1/ingest.proto):
// chain_hash = SHA-256(previous chain_hash || seq as 8 bytes little endian ||
// event bytes); the previous hash of seq 1 is 32 zero bytes.

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::central {

inline constexpr std::size_t kChainHashSize = 32;

// The previous hash of an instance's first record.
std::string zeroChainHash();

// SHA-256(prev || le64(seq) || event), 32 bytes.
std::string chainHash(std::string_view prev, uint64_t seq, std::string_view event);

// Lowercase hex, for logs and chain_events details.
std::string toHex(std::string_view bytes);

} // namespace vigil::central
