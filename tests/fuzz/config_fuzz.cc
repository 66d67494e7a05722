// The agent's configuration file: parseAgentConfig on any text. It promises
// never to throw and to say where each error is ("source:line:col: ...").

#include "agent/config.h"
#include "tests/fuzz/fuzz_check.h"

#include <exception>
#include <string>

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    auto result = parseAgentConfig(yaml, "fuzz.yaml");
    if (!result.ok()) {
      fuzz::checkError(result.error());
      fuzz::check(result.error().message().starts_with("fuzz.yaml"), "an error names the file it is in");
    }
  } catch (const std::exception& e) {
    fuzz::check(false, std::string("parseAgentConfig threw: ") + e.what());
  } catch (...) {
    fuzz::check(false, "parseAgentConfig threw a non-exception");
  }
  return 0;
}
