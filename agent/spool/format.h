#pragma once

// The spool's on-disk format (docs/spool.md): segment headers, record frames
// and the ack file, encoded and decoded as pure functions over bytes so that
// the decoders can be fuzzed (tests/fuzz/spool_segment_fuzz.cc). Every
// integer is little endian.
//
// Segment header (kHeaderFixedBytes + boot id + node + 4):
//   0  magic "VIGILSPL"        8 bytes
//   8  format version           u16 (kFormatVersion)
//  10  header length            u16, every byte of the header, CRC included
//  12  flags                    u32, 0
//  16  segment id               u64, spool order
//  24  first seq                u64, the seq the segment was opened for
//  32  prev seq                 u64, the seq prev hash belongs to (0: none)
//  40  prev chain hash          32 bytes (zeros when prev seq is 0)
//  72  instance start_unix_ns   u64
//  80  boot id length           u16 (<= kMaxBootIdBytes)
//  82  node length              u16 (<= kMaxNodeBytes)
//  84  boot id, node            bytes
//  ..  CRC-32C                  u32 over every byte before it
//
// Record frame (kFrameOverhead + event bytes):
//   0  body length              u32 (kFrameBodyMin .. kFrameBodyMax)
//   4  CRC-32C                  u32 over the length field and the body
//   8  seq                      u64
//  16  chain hash               32 bytes
//  48  event                    body length - 40 bytes

#include "vigil/status.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::spool {

inline constexpr std::string_view kSegmentMagic = "VIGILSPL";
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kHashBytes = 32;
inline constexpr size_t kHeaderFixedBytes = 84;
inline constexpr size_t kMaxBootIdBytes = 255;
inline constexpr size_t kMaxNodeBytes = 1024;
inline constexpr size_t kMaxHeaderBytes = kHeaderFixedBytes + kMaxBootIdBytes + kMaxNodeBytes + 4;
inline constexpr size_t kFrameHeadBytes = 8;                  // length + CRC
inline constexpr size_t kFrameBodyMin = 8 + kHashBytes;        // seq + chain hash
inline constexpr size_t kFrameOverhead = kFrameHeadBytes + kFrameBodyMin;
inline constexpr size_t kMaxEventBytes = 16u << 20;
inline constexpr size_t kFrameBodyMax = kFrameBodyMin + kMaxEventBytes;

using Hash = std::array<uint8_t, kHashBytes>;

struct SegmentHeader {
  uint64_t segment_id = 0;
  uint64_t first_seq = 0;
  uint64_t prev_seq = 0;
  Hash prev_hash{};
  std::string boot_id;
  uint64_t start_unix_ns = 0;
  std::string node;
  uint32_t header_bytes = 0; // set by decodeHeader / encodeHeader
};

// Appends the encoded header to `out`; the fields must be within bounds.
void encodeHeader(SegmentHeader& header, std::string& out);
// Decodes the header at the start of `data`; an error names what is wrong
// (short, magic, version, length, CRC).
Result<SegmentHeader> decodeHeader(std::string_view data);

// Appends one frame.
void encodeFrame(uint64_t seq, const Hash& chain_hash, std::string_view event, std::string& out);

struct FrameView {
  uint64_t seq = 0;
  std::string_view chain_hash; // kHashBytes bytes
  std::string_view event;
  size_t frame_bytes = 0; // the whole frame, head included
};

enum class FrameResult {
  kOk,
  kShort,     // fewer bytes than the frame needs: the end of the data, or a torn tail
  kBadLength, // the body length is out of bounds
  kBadCrc,
};
std::string_view frameResultName(FrameResult result);

// Decodes the frame at the start of `data`. The views point into `data`.
FrameResult decodeFrame(std::string_view data, FrameView& frame);
// The frame length `data` claims (0 when it holds fewer than 4 bytes or the
// length is out of bounds): lets a scanner step over frames whose CRC fails.
size_t claimedFrameBytes(std::string_view data);

// The ack file: the highest acknowledged seq per agent instance.
//   0 magic "VIGILACK" 8 | version u16 | count u16 | entries | CRC-32C u32
//   entry: start_unix_ns u64 | seq u64 | boot id length u16 | boot id
struct AckEntry {
  std::string boot_id;
  uint64_t start_unix_ns = 0;
  uint64_t seq = 0;
};
inline constexpr std::string_view kAckMagic = "VIGILACK";
inline constexpr size_t kMaxAckEntries = 4096;
std::string encodeAcks(const std::vector<AckEntry>& entries);
Result<std::vector<AckEntry>> decodeAcks(std::string_view data);

// Little-endian helpers.
void putU16(std::string& out, uint16_t v);
void putU32(std::string& out, uint32_t v);
void putU64(std::string& out, uint64_t v);
uint16_t getU16(const char* p);
uint32_t getU32(const char* p);
uint64_t getU64(const char* p);

} // namespace vigil::spool
