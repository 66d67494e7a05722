// Spool segment files as found on disk (untrusted bytes: a crash, a bad
// disk, anyone with write access to the directory). The input is one
// segment file:
//   - the pure decoders: a header that decodes re-encodes to the same bytes;
//     every frame that decodes lies inside the input and re-encodes to the
//     same bytes; an ack file that decodes re-encodes to the same bytes;
//   - the whole recovery: the bytes are written as a segment of a spool in
//     /dev/shm and the spool is opened. open() never fails on them, the file
//     is either set aside or cut to a prefix of itself, what the reader
//     returns is consistent (one instance per batch, consecutive seqs, the
//     events of the frames that decoded), and opening again finds nothing
//     more to cut.

#include "agent/spool/format.h"
#include "agent/spool/spool.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <string>
#include <unistd.h>

using namespace vigil;

namespace {

namespace fs = std::filesystem;

// Made once, removed at exit (the string is never destroyed, so the exit
// handler can still read it).
const std::string& spoolDir() {
  static const std::string* const dir = [] {
    spdlog::set_level(spdlog::level::off);
    std::string tmpl = "/dev/shm/vigil-spool-fuzz-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      tmpl = "/tmp/vigil-spool-fuzz-XXXXXX";
      fuzz::check(::mkdtemp(tmpl.data()) != nullptr, "a temporary directory");
    }
    auto* made = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(spoolDir(), ec);
    });
    return made;
  }();
  return *dir;
}

void checkDecoders(std::string_view bytes) {
  auto header = spool::decodeHeader(bytes);
  size_t off = 0;
  if (header.ok()) {
    fuzz::check(header->header_bytes <= bytes.size(), "the header lies inside the input");
    spool::SegmentHeader copy = *header;
    std::string again;
    spool::encodeHeader(copy, again);
    fuzz::check(again == bytes.substr(0, header->header_bytes), "the header re-encodes to its bytes");
    off = header->header_bytes;
  } else {
    fuzz::checkError(header.error());
  }
  while (off < bytes.size()) {
    spool::FrameView frame;
    if (spool::decodeFrame(bytes.substr(off), frame) != spool::FrameResult::kOk) {
      break;
    }
    fuzz::check(frame.frame_bytes <= bytes.size() - off, "a frame lies inside the input");
    fuzz::check(frame.frame_bytes == spool::kFrameOverhead + frame.event.size(), "a frame's size is its parts'");
    std::string again;
    spool::Hash hash{};
    std::copy(frame.chain_hash.begin(), frame.chain_hash.end(), hash.begin());
    spool::encodeFrame(frame.seq, hash, frame.event, again);
    fuzz::check(again == bytes.substr(off, frame.frame_bytes), "a frame re-encodes to its bytes");
    off += frame.frame_bytes;
  }
  auto acks = spool::decodeAcks(bytes);
  if (acks.ok()) {
    fuzz::check(spool::encodeAcks(*acks) == bytes, "an ack file re-encodes to its bytes");
  } else {
    fuzz::checkError(acks.error());
  }
}

SpoolOptions options() {
  SpoolOptions o;
  o.dir = spoolDir() + "/spool";
  o.node = "fuzz";
  o.instance.set_boot_id("fuzz-boot");
  o.instance.set_start_unix_ns(1);
  o.segment_bytes = 1u << 20;
  o.max_bytes = 1ull << 30;
  return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  checkDecoders(bytes);

  const std::string dir = spoolDir() + "/spool";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  const std::string path = dir + "/seg-00000000000000000001-00000000000000000001-0000000000000000.vsp";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
  }
  {
    metrics::Registry registry("");
    auto spool = Spool::open(options(), registry);
    fuzz::check(spool.ok(), "open() recovers from any segment bytes");
    const bool aside = fs::exists(path + ".corrupt");
    const bool kept = fs::exists(path);
    fuzz::check(!(aside && kept), "a segment is set aside or kept, not both");
    if (kept) {
      std::ifstream f(path, std::ios::binary);
      std::string left((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      fuzz::check(bytes.starts_with(left), "recovery only cuts the end");
    } else if (aside) {
      fuzz::check(fs::file_size(path + ".corrupt") == size, "a segment set aside is left whole");
      fuzz::check((*spool)->stats().corrupt_segments == 1, "a segment set aside is counted");
    }
    for (;;) {
      auto batch = (*spool)->readNext(64, 1 << 20);
      fuzz::check(batch.ok(), "reading a recovered segment does not fail");
      if (!batch->has_value()) {
        break;
      }
      const auto& b = **batch;
      fuzz::check(!b.records.empty(), "a batch holds records");
      fuzz::check(b.instance.boot_id().size() <= spool::kMaxBootIdBytes, "the instance is the header's");
      for (size_t i = 0; i < b.records.size(); ++i) {
        fuzz::check(b.records[i].seq() == b.first_seq + i, "seqs are consecutive in a batch");
        fuzz::check(b.records[i].chain_hash().size() == spool::kHashBytes, "a chain hash has 32 bytes");
      }
      fuzz::check(b.prev_chain_hash.empty() || b.prev_chain_hash.size() == spool::kHashBytes,
                  "a previous chain hash is empty or 32 bytes");
    }
    fuzz::check((*spool)->stats().corrupt_records == 0, "what recovery kept reads back");
  }
  {
    metrics::Registry registry("");
    auto spool = Spool::open(options(), registry);
    fuzz::check(spool.ok(), "a recovered spool opens again");
    fuzz::check((*spool)->stats().torn_tail_records == 0, "recovery leaves nothing to cut");
    fuzz::check((*spool)->stats().corrupt_segments == 0, "recovery leaves nothing to set aside");
  }
  return 0;
}
