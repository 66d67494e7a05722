#include "collectors/runtime/iterator.h"

#include "shared/common.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace vigil::runtime {

Status readIterator(int link_fd, const std::function<void(std::span<const uint8_t>)>& callback) {
  int fd = bpf_iter_create(link_fd);
  if (fd < 0) {
    return makeError("create iterator: {}", strerror(errno));
  }

  // Records are whole in each read() except across buffer ends; accumulate
  // and split by each header's size.
  std::vector<uint8_t> buf;
  std::vector<uint8_t> chunk(64 * 1024);
  Status status;
  for (;;) {
    ssize_t n = read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      status = makeError("read iterator: {}", strerror(errno));
      break;
    }
    if (n == 0) {
      break;
    }
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + n);
    size_t off = 0;
    while (buf.size() - off >= sizeof(vigil_event_header)) {
      vigil_event_header hdr;
      std::memcpy(&hdr, buf.data() + off, sizeof(hdr));
      if (hdr.size < sizeof(hdr)) {
        status = makeError("iterator record at byte {} claims size {}", off, hdr.size);
        break;
      }
      if (buf.size() - off < hdr.size) {
        break;
      }
      callback(std::span<const uint8_t>(buf.data() + off, hdr.size));
      off += hdr.size;
    }
    if (!status) {
      break;
    }
    buf.erase(buf.begin(), buf.begin() + long(off));
  }
  close(fd);
  if (status && !buf.empty()) {
    return makeError("iterator ended inside a record ({} bytes left)", buf.size());
  }
  return status;
}

} // namespace vigil::runtime
