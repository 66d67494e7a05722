#include "agent/spool/format.h"

#include "agent/spool/crc32c.h"

#include <cstring>

namespace vigil::spool {

void putU16(std::string& out, uint16_t v) {
  const char b[2] = {char(v), char(v >> 8)};
  out.append(b, 2);
}

void putU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) {
    b[i] = char(v >> (8 * i));
  }
  out.append(b, 4);
}

void putU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) {
    b[i] = char(v >> (8 * i));
  }
  out.append(b, 8);
}

uint16_t getU16(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return uint16_t(u[0] | (u[1] << 8));
}

uint32_t getU32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 | uint32_t(u[3]) << 24;
}

uint64_t getU64(const char* p) { return uint64_t(getU32(p)) | uint64_t(getU32(p + 4)) << 32; }

void encodeHeader(SegmentHeader& header, std::string& out) {
  const size_t start = out.size();
  const size_t total = kHeaderFixedBytes + header.boot_id.size() + header.node.size() + 4;
  header.header_bytes = uint32_t(total);
  out.append(kSegmentMagic);
  putU16(out, kFormatVersion);
  putU16(out, uint16_t(total));
  putU32(out, 0);
  putU64(out, header.segment_id);
  putU64(out, header.first_seq);
  putU64(out, header.prev_seq);
  out.append(reinterpret_cast<const char*>(header.prev_hash.data()), kHashBytes);
  putU64(out, header.start_unix_ns);
  putU16(out, uint16_t(header.boot_id.size()));
  putU16(out, uint16_t(header.node.size()));
  out.append(header.boot_id);
  out.append(header.node);
  putU32(out, crc32c(std::string_view(out).substr(start)));
}

Result<SegmentHeader> decodeHeader(std::string_view data) {
  if (data.size() < kHeaderFixedBytes + 4) {
    return makeError("segment header: {} bytes, shorter than the {} of the smallest header", data.size(),
                     kHeaderFixedBytes + 4);
  }
  if (data.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    return makeError("segment header: bad magic");
  }
  const char* p = data.data();
  const uint16_t version = getU16(p + 8);
  if (version != kFormatVersion) {
    return makeError("segment header: format version {}, this build reads {}", version, kFormatVersion);
  }
  const size_t total = getU16(p + 10);
  const size_t boot_len = getU16(p + 80);
  const size_t node_len = getU16(p + 82);
  if (boot_len > kMaxBootIdBytes || node_len > kMaxNodeBytes || total != kHeaderFixedBytes + boot_len + node_len + 4) {
    return makeError("segment header: inconsistent lengths (header {}, boot id {}, node {})", total, boot_len,
                     node_len);
  }
  if (data.size() < total) {
    return makeError("segment header: {} bytes of a {}-byte header", data.size(), total);
  }
  const uint32_t stored = getU32(p + total - 4);
  const uint32_t computed = crc32c(data.substr(0, total - 4));
  if (stored != computed) {
    return makeError("segment header: CRC {:08x}, computed {:08x}", stored, computed);
  }
  if (getU32(p + 12) != 0) {
    return makeError("segment header: unknown flags {:08x}", getU32(p + 12));
  }
  SegmentHeader h;
  h.header_bytes = uint32_t(total);
  h.segment_id = getU64(p + 16);
  h.first_seq = getU64(p + 24);
  h.prev_seq = getU64(p + 32);
  std::memcpy(h.prev_hash.data(), p + 40, kHashBytes);
  h.start_unix_ns = getU64(p + 72);
  h.boot_id.assign(p + kHeaderFixedBytes, boot_len);
  h.node.assign(p + kHeaderFixedBytes + boot_len, node_len);
  if (h.first_seq == 0 || h.prev_seq >= h.first_seq) {
    return makeError("segment header: first seq {} after prev seq {}", h.first_seq, h.prev_seq);
  }
  return h;
}

void encodeFrame(uint64_t seq, const Hash& chain_hash, std::string_view event, std::string& out) {
  const size_t start = out.size();
  const uint32_t body = uint32_t(kFrameBodyMin + event.size());
  putU32(out, body);
  putU32(out, 0); // CRC, below
  putU64(out, seq);
  out.append(reinterpret_cast<const char*>(chain_hash.data()), kHashBytes);
  out.append(event);
  uint32_t crc = crc32c(0, out.data() + start, 4);
  crc = crc32c(crc, out.data() + start + kFrameHeadBytes, body);
  for (int i = 0; i < 4; ++i) {
    out[start + 4 + size_t(i)] = char(crc >> (8 * i));
  }
}

std::string_view frameResultName(FrameResult result) {
  switch (result) {
  case FrameResult::kOk:
    return "ok";
  case FrameResult::kShort:
    return "short frame";
  case FrameResult::kBadLength:
    return "bad length";
  case FrameResult::kBadCrc:
    return "bad CRC";
  }
  return "?";
}

size_t claimedFrameBytes(std::string_view data) {
  if (data.size() < 4) {
    return 0;
  }
  const uint32_t body = getU32(data.data());
  if (body < kFrameBodyMin || body > kFrameBodyMax) {
    return 0;
  }
  return kFrameHeadBytes + body;
}

FrameResult decodeFrame(std::string_view data, FrameView& frame) {
  if (data.size() < 4) {
    return FrameResult::kShort;
  }
  const uint32_t body = getU32(data.data());
  if (body < kFrameBodyMin || body > kFrameBodyMax) {
    return FrameResult::kBadLength;
  }
  if (data.size() < kFrameHeadBytes + body) {
    return FrameResult::kShort;
  }
  const char* p = data.data();
  uint32_t crc = crc32c(0, p, 4);
  crc = crc32c(crc, p + kFrameHeadBytes, body);
  if (crc != getU32(p + 4)) {
    return FrameResult::kBadCrc;
  }
  frame.seq = getU64(p + kFrameHeadBytes);
  frame.chain_hash = data.substr(kFrameHeadBytes + 8, kHashBytes);
  frame.event = data.substr(kFrameOverhead, body - kFrameBodyMin);
  frame.frame_bytes = kFrameHeadBytes + body;
  return FrameResult::kOk;
}

std::string encodeAcks(const std::vector<AckEntry>& entries) {
  std::string out(kAckMagic);
  putU16(out, kFormatVersion);
  putU16(out, uint16_t(entries.size()));
  for (const auto& e : entries) {
    putU64(out, e.start_unix_ns);
    putU64(out, e.seq);
    putU16(out, uint16_t(e.boot_id.size()));
    out.append(e.boot_id);
  }
  putU32(out, crc32c(out));
  return out;
}

Result<std::vector<AckEntry>> decodeAcks(std::string_view data) {
  const size_t fixed = kAckMagic.size() + 4;
  if (data.size() < fixed + 4 || data.substr(0, kAckMagic.size()) != kAckMagic) {
    return makeError("ack file: not an ack file ({} bytes)", data.size());
  }
  const uint32_t stored = getU32(data.data() + data.size() - 4);
  if (stored != crc32c(data.substr(0, data.size() - 4))) {
    return makeError("ack file: bad CRC");
  }
  const uint16_t version = getU16(data.data() + 8);
  if (version != kFormatVersion) {
    return makeError("ack file: format version {}, this build reads {}", version, kFormatVersion);
  }
  const size_t count = getU16(data.data() + 10);
  std::vector<AckEntry> entries;
  size_t off = fixed;
  const size_t end = data.size() - 4;
  for (size_t i = 0; i < count; ++i) {
    if (end - off < 18) {
      return makeError("ack file: entry {} is cut short", i);
    }
    AckEntry e;
    e.start_unix_ns = getU64(data.data() + off);
    e.seq = getU64(data.data() + off + 8);
    const size_t len = getU16(data.data() + off + 16);
    off += 18;
    if (len > kMaxBootIdBytes || end - off < len) {
      return makeError("ack file: entry {} has a bad boot id length {}", i, len);
    }
    e.boot_id.assign(data.data() + off, len);
    off += len;
    entries.push_back(std::move(e));
  }
  if (off != end) {
    return makeError("ack file: {} bytes after the last entry", end - off);
  }
  return entries;
}

} // namespace vigil::spool
