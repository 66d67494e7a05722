#pragma once

// Whether a host names this machine's loopback (localhost, 127.0.0.0/8,
// ::1): the only place plaintext is allowed between the agent and the
// central collector. Used by both tiers.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace vigil {

inline bool isLoopbackHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") {
    return true;
  }
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&a6);
  }
  return false;
}

} // namespace vigil
