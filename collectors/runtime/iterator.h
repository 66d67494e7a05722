#pragma once

// Reads a BPF iterator whose program writes whole Vigil records (each
// starting with a vigil_event_header) with bpf_seq_write.

#include "vigil/status.h"

#include <cstdint>
#include <functional>
#include <span>

namespace vigil::runtime {

// Creates an iterator from link_fd, reads it to its end, and hands each
// record to callback. Records may straddle read() boundaries; a record that
// claims less than a header, or bytes left at the end, are errors.
Status readIterator(int link_fd, const std::function<void(std::span<const uint8_t>)>& callback);

} // namespace vigil::runtime
