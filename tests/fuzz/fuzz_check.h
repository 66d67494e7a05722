#pragma once

// What the fuzz targets check beyond "no crash". A broken invariant prints
// what broke and aborts, which libFuzzer reports as a crash and saves the
// input that caused it.

#include "vigil/event.h"

#include <cstdio>
#include <cstdlib>
#include <source_location>
#include <string>
#include <string_view>

namespace vigil::fuzz {

inline void check(bool ok, std::string_view what, std::source_location where = std::source_location::current()) {
  if (!ok) {
    std::fprintf(stderr, "%s:%u: invariant broken: %.*s\n", where.file_name(), unsigned(where.line()),
                 int(what.size()), what.data());
    std::abort();
  }
}

// A decoded event is a message a collector can ship: it serializes, and
// parses back (proto3 rejects string fields that are not valid UTF-8).
inline void checkShippable(const Event& event, std::source_location where = std::source_location::current()) {
  std::string wire;
  check(event.SerializeToString(&wire), "the event serializes", where);
  Event parsed;
  check(parsed.ParseFromString(wire), "the event parses back: every string is valid UTF-8", where);
}

// An error says something.
inline void checkError(const Error& error, std::source_location where = std::source_location::current()) {
  check(!error.message().empty(), "an error has a message", where);
}

} // namespace vigil::fuzz
