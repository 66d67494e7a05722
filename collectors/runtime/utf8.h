#pragma once

// Kernel strings (paths, argv, comm) are bytes; the contract's string
// fields are UTF-8.

#include <string>
#include <string_view>

namespace vigil::runtime {

// Makes bytes valid UTF-8 for the string fields of the contract: every byte
// that is not part of a valid UTF-8 sequence becomes the text "\xNN".
std::string sanitizeUtf8(std::string_view bytes);

} // namespace vigil::runtime
