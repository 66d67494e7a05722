#include "agent/sinks/json.h"

#include <google/protobuf/util/json_util.h>

namespace vigil {

Status renderJson(const Event& event, std::string& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  out.clear();
  auto status = google::protobuf::util::MessageToJsonString(event, &out, options);
  if (!status.ok()) {
    return makeError("rendering event seq {} as JSON: {}", event.seq(), status.ToString());
  }
  return okStatus();
}

Status parseJson(const std::string& line, Event& event) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(line, &event, options);
  if (!status.ok()) {
    return makeError("parsing event JSON: {}", status.ToString());
  }
  return okStatus();
}

} // namespace vigil
