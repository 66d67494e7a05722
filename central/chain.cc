#include "central/chain.h"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace vigil::central {

std::string zeroChainHash() { return std::string(kChainHashSize, '\0'); }

std::string chainHash(std::string_view prev, uint64_t seq, std::string_view event) {
  std::array<unsigned char, 8> le{};
  for (std::size_t i = 0; i < le.size(); ++i) {
    le[i] = static_cast<unsigned char>(seq >> (8 * i));
  }
  std::string out(kChainHashSize, '\0');
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // EVP fails only when out of memory or without a SHA-256 provider: neither
  // is an input error, and a wrong hash would look like tampering.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, prev.data(), prev.size()) != 1 || EVP_DigestUpdate(ctx, le.data(), le.size()) != 1 ||
      EVP_DigestUpdate(ctx, event.data(), event.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &len) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("SHA-256 (OpenSSL EVP) failed");
  }
  EVP_MD_CTX_free(ctx);
  return out;
}

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

} // namespace vigil::central
